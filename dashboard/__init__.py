"""The agent dashboard (an aiohttp sub-app). Built with the desk provider."""
