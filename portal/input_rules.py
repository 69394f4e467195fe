"""The bounds of what people type, written once: the flows check them (flows/validation.py,
passwords.py) and the API schemas declare them (api/schemas.py)."""

USERNAME_MIN = 3
USERNAME_MAX = 32
# Flows lower-case a username before matching it; the API schemas accept either case.
USERNAME_PATTERN = rf"^[a-z0-9_.\-]{{{USERNAME_MIN},{USERNAME_MAX}}}$"
USERNAME_PATTERN_ANY_CASE = rf"^[A-Za-z0-9_.\-]{{{USERNAME_MIN},{USERNAME_MAX}}}$"

MAX_EMAIL = 254

PASSWORD_MIN = 8
PASSWORD_MAX = 128
