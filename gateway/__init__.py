"""The gateway: customer-facing HTTP + WebSocket edge of the banking assistant.

It issues access tokens (after asking core_banking who the user is), serves the chat
widget, and relays chat turns between browsers and Rasa. It owns no banking data.
"""
