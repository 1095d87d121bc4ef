"""CSV cells a spreadsheet shows as text: nothing an export writes runs as a formula."""

# A spreadsheet takes a cell starting with one of these as a formula (OWASP, CSV injection);
# a tab or carriage return first lets some of them skip the leading blanks to reach one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value):
    """Return a value for a CSV cell, text that a spreadsheet would run prefixed with a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
