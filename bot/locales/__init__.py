"""Translations of the bot's messages and command texts, one module per language."""
