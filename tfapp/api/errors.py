"""Every API error as ``{"code", "message", "field"}`` with a 4xx status, never an HTML page."""
from django.http import Http404
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

#: HTTP status of each form error code; any other code is a 400.
FORM_ERROR_STATUS = {"file_too_large": 413, "too_big_file": 413, "client_queue_full": 429, "queue_full": 503, "model_unavailable": 503}

HTTP_ERROR_CODES = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


class ApiError(HttpError):
    def __init__(self, status_code, code, message, field=None):
        super().__init__(status_code, message)
        self.code, self.field = code, field


def error_body(code, message, field=None):
    return {"code": code, "message": message, "field": field}


def form_error_response(api, request, form):
    """The form's errors: the first decides the status and the top-level fields; ``errors`` has them all."""
    errors = [error_body(error.code or "invalid", message, None if name == "__all__" else name)
              for name, field_errors in form.errors.as_data().items()
              for error in field_errors for message in error.messages]
    status = FORM_ERROR_STATUS.get(errors[0]["code"], 400)
    response = api.create_response(request, {**errors[0], "errors": errors}, status=status)
    if status in (429, 503):
        response["Retry-After"] = "30"
    return response


def install(api):
    """Register the handlers that give every error the JSON shape."""

    @api.exception_handler(ApiError)
    def api_error(request, exc):
        return api.create_response(request, error_body(exc.code, str(exc), exc.field), status=exc.status_code)

    @api.exception_handler(AuthenticationError)
    def not_authenticated(request, exc):
        return api.create_response(request, error_body(
            "not_authenticated", "Send a personal API token: Authorization: Bearer <token>."), status=401)

    @api.exception_handler(Throttled)
    def throttled(request, exc):
        return api.create_response(request, error_body(
            "rate_limited", "Too many requests; wait for the number of seconds in Retry-After."), status=429)

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return api.create_response(request, error_body(
            "not_found", "There is no transfer of yours with this id."), status=404)

    @api.exception_handler(ValidationError)
    def invalid(request, exc):
        first = exc.errors[0] if exc.errors else {}
        location = first.get("loc") or [None]
        field = None if location[-1] in ("body", "query", "path") else str(location[-1])
        return api.create_response(request, error_body("invalid", first.get("msg", "Invalid request."), field),
                                   status=400)

    @api.exception_handler(HttpError)
    def http_error(request, exc):
        code = HTTP_ERROR_CODES.get(exc.status_code, "error")
        return api.create_response(request, error_body(code, str(exc)), status=exc.status_code)
