"""Personal data kept out of logs: IINs and phone numbers masked in every log record."""

import logging
import re

# Twelve digits standing alone: an IIN (or a BIN); the last four stay for tracing.
IIN = re.compile(r"(?<!\d)\d{8}(\d{4})(?!\d)")
# Kazakh phone numbers as people write them: +7 or 8, then ten digits in any grouping.
PHONE = re.compile(r"(?<![\d+])(?:\+7|8)[\s\-(]*\d{3}[\s\-)]*\d{3}[\s\-]*\d{2}[\s\-]*(\d{2})(?!\d)")


def mask(text: str) -> str:
    """Return the text with IINs and phone numbers masked."""
    text = PHONE.sub(lambda m: "+7*******" + m.group(1), text)
    return IIN.sub(lambda m: "********" + m.group(1), text)


class PersonalDataFilter(logging.Filter):
    """Mask personal data in a record's message and in its formatted exception."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        if getattr(record, "masked", False):
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # A malformed call is logging's to report when it emits; keep what can be masked.
            message = str(record.msg)
        record.msg = mask(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        record.masked = True
        return True


FILTER = PersonalDataFilter()


def install() -> None:
    """Mask every record as it is made, whatever logger or handler it goes to; idempotent.

    A filter on one logger misses records that propagate from its children, and handlers
    added later (gunicorn's, a test's) would miss it too, so the filter runs from the record
    factory instead.
    """
    factory = logging.getLogRecordFactory()
    if getattr(factory, "masks_personal_data", False):
        return

    def masked_record(*args, **kwargs) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        FILTER.filter(record)
        return record

    masked_record.masks_personal_data = True
    logging.setLogRecordFactory(masked_record)
