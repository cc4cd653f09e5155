"""The v1 chatbot API. Each module declares its routes in its own table (``routes``); the app
factory lists the tables (:mod:`hub.api.registry`)."""
