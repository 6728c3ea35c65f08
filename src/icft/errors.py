"""The one exception type that reaches the user as a single line."""


class IcftError(Exception):
    """A problem the user can fix: the message names the problem and the fix.

    The CLI prints it as one line (no traceback); library callers can catch it.
    """
