"""The JSON API under ``/api/v1/``, described by OpenAPI at ``/api/v1/openapi.json``.

Views only parse, authorise and call: reads go through the register's projections
and the log, writes through the named services of
:mod:`cosignatory.web.register.services`. Errors are RFC 9457 problem documents whose
``code`` is the stable code of the error raised (see :mod:`.problems`). docs/api.md
describes the whole API.
"""
