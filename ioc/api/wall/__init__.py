"""The wall display: a static page and its script and style, served by the API."""
