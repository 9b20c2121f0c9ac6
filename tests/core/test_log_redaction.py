"""Resident ID numbers stay out of tracebacks and the web server's access log."""

from __future__ import annotations

import io
import logging

from gunicorn.config import Config

from qualitycity.core.logging import PersonalDataFilter
from qualitycity.core.management.commands.serve import RedactingLogger

ID = "370202198501011234"


def test_a_logged_exception_does_not_carry_an_id_number():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PersonalDataFilter())
    logger = logging.getLogger("qualitycity.test.traceback")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError(f"duplicate key value violates unique constraint: (code)=({ID})")
        except ValueError:
            logger.exception("ingestion failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "ValueError" in text
    assert ID not in text
    assert "370202********1234" in text


def test_the_access_log_of_serve_masks_id_numbers_in_addresses(capsys):
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("logger_class", RedactingLogger)
    log = cfg.logger_class(cfg)

    class Response:
        status = "200 OK"
        response_length = 10
        sent = 10
        headers = []

    class Request:
        headers = []

    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/api/v1/subjects/{ID}",
        "PATH_INFO": f"/api/v1/subjects/{ID}",
        "QUERY_STRING": f"q={ID}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": f"http://127.0.0.1:8000/records/files/{ID}/",
    }
    import datetime as dt

    log.access(Response(), Request(), environ, dt.timedelta(milliseconds=3))
    out = capsys.readouterr()
    text = out.out + out.err
    assert "/api/v1/subjects/370202********1234" in text
    assert ID not in text
