"""How the backend itself talks to Telegram (staff replies, notifications): one small Bot API
client over httpx, and the rendering rules shared with the bot adapter. No Telegram library."""
