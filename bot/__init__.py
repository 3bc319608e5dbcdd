"""The Telegram adapter (python-telegram-bot), a thin front end on the conversation API.

It arrives with the Telegram bot issue; the backend it talks to is complete without it, and
`jol chat` walks the same conversations in a terminal meanwhile.
"""
