"""The alarm vocabulary rules may use: X.733 event types and IANA ITU probable causes."""

from __future__ import annotations

# ITU-T X.733 event types, with the additions of X.736 (security) as IANA-ITU-ALARM-TC lists them.
EVENT_TYPES = frozenset(
    {
        "communicationsAlarm",
        "qualityOfServiceAlarm",
        "processingErrorAlarm",
        "equipmentAlarm",
        "environmentalAlarm",
        "integrityViolation",
        "operationalViolation",
        "physicalViolation",
        "securityServiceOrMechanismViolation",
        "timeDomainViolation",
    }
)

# IANAItuProbableCause names (IANA-ITU-ALARM-TC-MIB, after M.3100 and X.733), the subset that
# fits telecom sites, links and endpoints. Spelling follows the MIB, quirks included.
PROBABLE_CAUSES = frozenset(
    {
        # communications
        "aIS",
        "callSetUpFailure",
        "degradedSignal",
        "farEndReceiverFailure",
        "framingError",
        "lossOfFrame",
        "lossOfPointer",
        "lossOfSignal",
        "transmissionError",
        "remoteAlarmInterface",
        "excessiveBER",
        "unavailable",
        "receiveFailure",
        "transmitFailure",
        "connectionEstablishmentError",
        "invalidMessageReceived",
        "routingFailure",
        # equipment
        "externalDeviceProblem",
        "powerProblem",
        "processorProblem",
        "receiverFailure",
        "terminalProblem",
        "timingProblem",
        "transmitterFailure",
        "batteryChargingFailure",
        "lossOfSynchronisation",
        "lossOfRedundancy",
        "powerSupplyFailure",
        # environmental
        "airConditioningFailure",
        "batteryDischarging",
        "batteryFailure",
        "commercialPowerFailure",
        "coolingFanFailure",
        "engineFailure",
        "fireDetectorFailure",
        "fuseFailure",
        "generatorFailure",
        "lowBatteryThreshold",
        "rectifierFailure",
        "rectifierHighVoltage",
        "enclosureDoorOpen",
        "fire",
        "flood",
        "highHumidity",
        "highTemperature",
        "intrusionDetection",
        "lowFuel",
        "lowHumidity",
        "smoke",
        # processing
        "softwareError",
        "timeoutExpired",
        "configurationOrCustomisationError",
        # quality of service
        "bandwidthReduced",
        "congestion",
        "excessiveErrorRate",
        "excessiveResponseTime",
        "excessiveRetransmissionRate",
        "systemResourcesOverload",
    }
)
