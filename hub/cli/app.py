"""``hub``: a thin command-line client of the hub's HTTP API, for operators and integrators.

    hub order place order.json            POST /orders
    hub order show A-1 [--json]           GET /orders/A-1
    hub order cancel A-1 [--reason TEXT] [--idempotency-key KEY]  POST /orders/A-1/cancel
    hub order list --customer C-42 [--status S] [--limit N] [--json]
    hub returns open A-1 rma.json         POST /orders/A-1/returns (a return, an exchange or a claim)
    hub returns show R-7 [--json]         GET /returns/R-7
    hub returns received R-7 [FILE.json]  POST /returns/R-7/received (the receipt with its inspection)
    hub returns resend R-7                POST /returns/R-7/label/resend
    hub webhook send carrier event.json --secret S   signed as EasyPost signs it, POST /webhooks/carrier
    hub notifications preview order-shipped --locale fr [--out DIR]   a sample message, rendered offline
    hub bench [--orders N] [--concurrency N] [--workers N]   benchmark a fresh local stack (see docs/benchmarks.md)
    hub chaos [--orders N] [--kills N]   orders under worker kills, faults and a server restart; exit 1 on a violation

It talks HTTP only (never Temporal). The API is found with ``--api-url``/``HUB_API_URL`` and authenticated with
``--api-key``/``HUB_API_KEY``. Exit codes: 0 success; 1 refused by the hub (404, 409);
2 invalid input (422 and other 4xx, an unreadable or non-JSON file, an unknown webhook source); 3 the API cannot
be reached or is unavailable (connection error, timeout, 5xx: retry); 4 not authorised (401, 403). Failures print
one line on stderr (plus one line per invalid field on a 422), never a stack trace.
"""

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn
from urllib.parse import quote

import httpx
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from connectors.webhook_signatures import sign_easypost, sign_standard, sign_stripe
from domain.currency import format_amount
from hub.verify.bench.command import bench
from hub.verify.chaos.command import chaos
from notifications.notice import NoticeKind
from notifications.render import LANGUAGES, render
from notifications.samples import sample

DEFAULT_API_URL = "http://127.0.0.1:8000"
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
"""Decisions are workflow Updates that answer within seconds; connecting should take far less."""

WEBHOOK_SOURCES = ("erp", "carrier", "payment")


class ExitCode(IntEnum):
    OK = 0
    REFUSED = 1
    INVALID = 2
    UNREACHABLE = 3
    UNAUTHORISED = 4


class Failure(Exception):
    """A failure to report as one line on stderr (plus ``details``, one line each) and an exit code."""

    def __init__(self, code: ExitCode, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or []


@contextmanager
def _reporting() -> Iterator[None]:
    try:
        yield
    except Failure as failure:
        typer.echo(f"error: {failure.message}", err=True)
        for detail in failure.details:
            typer.echo(f"  {detail}", err=True)
        raise typer.Exit(failure.code) from None


def _fail(code: ExitCode, message: str, details: list[str] | None = None) -> NoReturn:
    raise Failure(code, message, details)


@dataclass(frozen=True)
class Hub:
    api_url: str
    api_key: str | None

    def request(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if authenticated and self.api_key:
            sent["Authorization"] = f"Bearer {self.api_key}"
        url = self.api_url.rstrip("/") + path
        try:
            with httpx.Client(timeout=TIMEOUT) as http:
                return http.request(method, url, content=content, json=json_body, params=params, headers=sent)
        except httpx.TimeoutException:
            _fail(
                ExitCode.UNREACHABLE,
                f"cannot reach the hub API at {self.api_url}: no answer to {method} {path} in time",
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as bad:
            _fail(ExitCode.INVALID, f"invalid API URL {self.api_url!r}: {bad}")
        except httpx.TransportError as error:
            _fail(ExitCode.UNREACHABLE, f"cannot reach the hub API at {self.api_url}: {error or type(error).__name__}")


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"detail": response.text.strip()[:200] or None}
    return body if isinstance(body, dict) else {}


def _check(response: httpx.Response, *, key_hint: bool = True) -> httpx.Response:
    """Return a 2xx response; turn any other into a ``Failure`` with the hub's own words."""
    if response.is_success:
        return response
    status = response.status_code
    problem = _problem(response)
    title = problem.get("title") or response.reason_phrase
    detail = problem.get("detail")
    said = f"{status} {title}" + (f": {detail}" if detail else "")
    if status == 401:
        hint = " (set --api-key or HUB_API_KEY)" if key_hint else ""
        _fail(ExitCode.UNAUTHORISED, f"not authorised: {said}{hint}")
    if status == 403:
        _fail(ExitCode.UNAUTHORISED, f"forbidden: {said}")
    if status == 422:
        errors = problem.get("errors") or []
        fields = [f"{e.get('field')}: {e.get('reason')}" for e in errors if isinstance(e, dict)]
        _fail(ExitCode.INVALID, f"invalid input: {said}", fields)
    if status in (404, 409):
        _fail(ExitCode.REFUSED, f"refused: {said}")
    if 400 <= status < 500:
        _fail(ExitCode.INVALID, f"invalid request: {said}")
    # An outage, not a refusal: a script should retry (503 comes with Retry-After), so it gets the code of an
    # unreachable API.
    retry = response.headers.get("Retry-After")
    _fail(ExitCode.UNREACHABLE, f"the hub is unavailable: {said}" + (f" (retry after {retry} s)" if retry else ""))


def _read_json_file(path: Path) -> bytes:
    """The file's exact bytes, after checking they are JSON."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        _fail(ExitCode.INVALID, f"cannot read {path}: {error.strerror or error}")
    try:
        json.loads(raw)
    except (ValueError, RecursionError) as error:
        _fail(ExitCode.INVALID, f"{path} is not valid JSON: {error}")
    return raw


def _hub(ctx: typer.Context) -> Hub:
    hub = ctx.obj
    assert isinstance(hub, Hub)
    return hub


def _path(order_id: str) -> str:
    return "/orders/" + quote(order_id, safe="")


def _console() -> Console:
    return Console(highlight=False)


def _cell(value: Any) -> Text:
    """Plain text: values from the hub are never read as rich markup."""
    return Text("" if value is None else str(value))


def _amount(amount: int, currency: str) -> str:
    try:
        return format_amount(amount, currency)
    except KeyError:
        return f"{amount} {currency} (minor units)"


# -- the app ---------------------------------------------------------------------------------------------------

app = typer.Typer(
    name="hub",
    help="Place, inspect and steer orders through the hub's HTTP API; send signed test webhooks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals would include the API key
)
orders_app = typer.Typer(help="Place, show, list and cancel orders.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Send signed webhooks as an upstream would (for integrators).", no_args_is_help=True)
returns_app = typer.Typer(help="Open and steer returns, exchanges and claims (RMAs).", no_args_is_help=True)
app.add_typer(orders_app, name="order")
app.add_typer(returns_app, name="returns")
customers_app = typer.Typer(help="What a customer has been through: orders, returns, messages.", no_args_is_help=True)
app.add_typer(customers_app, name="customer")
app.add_typer(webhooks_app, name="webhook")
notifications_app = typer.Typer(help="Preview customer messages (offline, from sample data).", no_args_is_help=True)
app.add_typer(notifications_app, name="notifications")
# The commands that start their own local stack (and so talk to Temporal): see hub/verify/bench and hub/verify/chaos.
app.command("bench")(bench)
app.command("chaos")(chaos)


@app.callback()
def main(
    ctx: typer.Context,
    api_url: Annotated[str, typer.Option(envvar="HUB_API_URL", help="Base URL of the hub's HTTP API.")] = (
        DEFAULT_API_URL
    ),
    api_key: Annotated[
        str | None, typer.Option(envvar="HUB_API_KEY", help="Bearer API key.", show_default=False)
    ] = None,
) -> None:
    ctx.obj = Hub(api_url=api_url, api_key=api_key)


@orders_app.command("place")
def place_order(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The order as JSON (the POST /orders body).", show_default=False)],
) -> None:
    """Place an order. Placing the same order again is harmless: it answers with the existing order."""
    with _reporting():
        body = _read_json_file(file)
        response = _check(
            _hub(ctx).request("POST", "/orders", content=body, headers={"Content-Type": "application/json"})
        )
        order = response.json()
        outcome = "placed" if response.status_code == 201 else "already placed (unchanged)"
        typer.echo(f"{order['order_id']}: {outcome}, status {order['status']}")


@customers_app.command("timeline")
def customer_timeline(
    ctx: typer.Context,
    customer_id: Annotated[str, typer.Argument(help="The customer id.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON as is.")] = False,
) -> None:
    """Every order, return, message and action of a customer, newest first (for customer service and stores)."""
    with _reporting():
        response = _check(_hub(ctx).request("GET", f"/customers/{quote(customer_id, safe='')}/timeline"))
    if as_json:
        typer.echo(response.text)
        return
    timeline = response.json()
    if not timeline["items"]:
        typer.echo(f"Nothing yet for customer {customer_id}.")
        return
    table = Table(
        title=f"Customer {customer_id}: {len(timeline['orders'])} order(s), {len(timeline['returns'])} RMA(s)"
    )
    for name in ("When", "What", "Order", "RMA", "Channel", "Summary"):
        table.add_column(name)
    for item in timeline["items"]:
        table.add_row(*(_cell(item.get(k)) for k in ("at", "kind", "order_id", "rma_id", "channel", "summary")))
    _console().print(table)


@orders_app.command("show")
def show_order(
    ctx: typer.Context,
    order_id: Annotated[str, typer.Argument(help="The order id.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON as is.")] = False,
) -> None:
    """Statuses, total, lines, shipments with tracking, and the timeline of an order."""
    with _reporting():
        response = _check(_hub(ctx).request("GET", _path(order_id)))
    if as_json:
        typer.echo(response.text)
        return
    _print_order(response.json())


def _print_order(order: dict[str, Any]) -> None:
    console = _console()
    currency = order["currency"]
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("Order", _cell(order["order_id"]))
    summary.add_row("Customer", _cell(order["customer_id"]))
    summary.add_row("Status", _cell(order["status"]))
    summary.add_row("Payment", _cell(order["payment_status"]))
    summary.add_row("Fulfillment", _cell(order["fulfillment_status"]))
    summary.add_row("Total", _cell(_amount(order["total"], currency)))
    if order.get("failure_reason"):
        summary.add_row("Failure", _cell(order["failure_reason"]))
    if order.get("compensations"):
        summary.add_row("Undone", _cell(", ".join(order["compensations"])))
    if order.get("action_required"):
        summary.add_row("Needs a person", _cell(", ".join(order["action_required"])))
    console.print(summary)

    lines = Table(title="Lines", title_justify="left")
    for name in ("SKU", "Qty", "Unit price", "Amount"):
        lines.add_column(name, justify="left" if name == "SKU" else "right")
    for line in order.get("lines", []):
        lines.add_row(
            _cell(line["sku"]),
            _cell(line["quantity"]),
            _cell(_amount(line["unit_price"], currency)),
            _cell(_amount(line["unit_price"] * line["quantity"], currency)),
        )
    console.print(lines)

    if order.get("shipments"):
        shipments = Table(title="Shipments", title_justify="left")
        for name in ("#", "Reference", "Status", "Carrier", "Tracking code", "Tracking URL"):
            shipments.add_column(name)
        for shipment in order["shipments"]:
            shipments.add_row(
                *(
                    _cell(shipment.get(key))
                    for key in ("shipment_no", "reference", "status", "carrier", "tracking_code", "tracking_url")
                )
            )
        console.print(shipments)
    else:
        console.print("No shipments yet.")

    timeline = Table(title="Timeline", title_justify="left")
    for name in ("Time", "Step", "Outcome", "Detail"):
        timeline.add_column(name)
    for entry in order.get("timeline", []):
        timeline.add_row(*(_cell(entry.get(key)) for key in ("at", "step", "outcome", "detail")))
    console.print(timeline)


@orders_app.command("cancel")
def cancel_order(
    ctx: typer.Context,
    order_id: Annotated[str, typer.Argument(help="The order id.", show_default=False)],
    reason: Annotated[
        str | None, typer.Option(help="Why (kept in the timeline); the hub's default otherwise.", show_default=False)
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            help="Your key for this cancellation: run again with the same key, it gets the first answer.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Cancel an order before it ships; the hub refuses (exit 1) once it has."""
    with _reporting():
        body = None if reason is None else {"reason": reason}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        sent = _hub(ctx).request("POST", _path(order_id) + "/cancel", json_body=body, headers=headers)
        order = _check(sent).json()
        typer.echo(
            f"{order['order_id']}: status {order['status']}, payment {order['payment_status']}, "
            f"fulfillment {order['fulfillment_status']}"
        )


@orders_app.command("retry")
def retry_actions(
    ctx: typer.Context,
    order_id: Annotated[str, typer.Argument(help="The order id.", show_default=False)],
    note: Annotated[str, typer.Option(help="What you did first (kept in the timeline; no customer data).")] = "",
) -> None:
    """An operator: the order tries again the steps that put it in requires_action (its "Needs a person"), under the
    same keys; the hub refuses (exit 1) when nothing waits for a person."""
    with _reporting():
        order = _check(_hub(ctx).request("POST", _path(order_id) + "/retry", json_body={"note": note})).json()
        waiting = ", ".join(order.get("action_required") or []) or "nothing"
        typer.echo(
            f"{order['order_id']}: status {order['status']}, payment {order['payment_status']}, "
            f"still waiting for a person: {waiting}"
        )


@orders_app.command("list")
def list_orders(
    ctx: typer.Context,
    customer: Annotated[str, typer.Option(help="Customer id.", show_default=False)],
    status: Annotated[str | None, typer.Option(help="Only orders in this status.", show_default=False)] = None,
    limit: Annotated[int, typer.Option(help="At most this many (1-500).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON as is.")] = False,
) -> None:
    """A customer's orders (the list lags new orders by a moment)."""
    with _reporting():
        params: dict[str, Any] = {"customer_id": customer, "limit": limit}
        if status is not None:
            params["status"] = status
        response = _check(_hub(ctx).request("GET", "/orders", params=params))
    if as_json:
        typer.echo(response.text)
        return
    items = response.json()["items"]
    if not items:
        typer.echo(f"No orders for customer {customer}.")
        return
    table = Table()
    for name in ("Order", "Customer", "Status", "Started", "Closed"):
        table.add_column(name)
    for item in items:
        table.add_row(*(_cell(item.get(k)) for k in ("order_id", "customer_id", "status", "started_at", "closed_at")))
    _console().print(table)


def _rma_path(rma_id: str) -> str:
    return "/returns/" + quote(rma_id, safe="")


def _rma_summary(rma: dict[str, Any]) -> str:
    refunded = _amount(rma["refunded"], rma["currency"]) if rma.get("refunded") else "nothing refunded"
    return f"{rma['rma_id']} ({rma['kind']} of order {rma['order_id']}): {rma['status']}, {refunded}"


@returns_app.command("open")
def open_return(
    ctx: typer.Context,
    order_id: Annotated[str, typer.Argument(help="The order id.", show_default=False)],
    file: Annotated[Path, typer.Argument(help="The request as JSON (the POST body).", show_default=False)],
) -> None:
    """Open a return, exchange or claim on a delivered order; the hub refuses (exit 1) with its reason."""
    with _reporting():
        body = _read_json_file(file)
        headers = {"Content-Type": "application/json"}
        response = _check(_hub(ctx).request("POST", _path(order_id) + "/returns", content=body, headers=headers))
        outcome = "opened" if response.status_code == 201 else "already open (unchanged)"
        typer.echo(f"{outcome}: {_rma_summary(response.json())}")


@returns_app.command("show")
def show_return(
    ctx: typer.Context,
    rma_id: Annotated[str, typer.Argument(help="The RMA id.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON as is.")] = False,
) -> None:
    """Status, lines, what came back, the refund, parcels with tracking, messages sent and the timeline."""
    with _reporting():
        response = _check(_hub(ctx).request("GET", _rma_path(rma_id)))
    if as_json:
        typer.echo(response.text)
        return
    rma = response.json()
    console = _console()
    console.print(_cell(_rma_summary(rma)))
    for name, key in (("Return parcel", "return_shipment"), ("Replacement", "replacement_shipment")):
        if shipment := rma.get(key):
            details = (shipment.get(k) for k in ("status", "carrier", "tracking_code", "label_url"))
            console.print(_cell(f"{name}: " + " ".join(str(d) for d in details if d)))
    for line in rma.get("returned", []):
        console.print(_cell(f"Returned: {line['quantity']} x {line['sku']} ({line['disposition']})"))
    console.print(_cell("Messages: " + (", ".join(rma.get("messages_sent", [])) or "none")))
    timeline = Table(title="Timeline", title_justify="left")
    for name in ("Time", "Step", "Outcome", "Detail"):
        timeline.add_column(name)
    for entry in rma.get("timeline", []):
        timeline.add_row(*(_cell(entry.get(key)) for key in ("at", "step", "outcome", "detail")))
    console.print(timeline)


@returns_app.command("received")
def record_receipt(
    ctx: typer.Context,
    rma_id: Annotated[str, typer.Argument(help="The RMA id.", show_default=False)],
    file: Annotated[
        Path | None,
        typer.Argument(help="The receipt as JSON (lines with their disposition); none: all back, resaleable."),
    ] = None,
) -> None:
    """Record that the items are back (store, warehouse); answers once the RMA is settled."""
    with _reporting():
        body = _read_json_file(file) if file is not None else b"{}"
        headers = {"Content-Type": "application/json"}
        rma = _check(_hub(ctx).request("POST", _rma_path(rma_id) + "/received", content=body, headers=headers))
        typer.echo(_rma_summary(rma.json()))


@returns_app.command("resend")
def resend_label(
    ctx: typer.Context,
    rma_id: Annotated[str, typer.Argument(help="The RMA id.", show_default=False)],
) -> None:
    """Send the return label to the customer again."""
    with _reporting():
        rma = _check(_hub(ctx).request("POST", _rma_path(rma_id) + "/label/resend")).json()
        typer.echo(f"{rma['rma_id']}: label sent again ({len(rma['messages_sent'])} message(s) so far)")


@webhooks_app.command("send")
def send_webhook(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="erp, carrier or payment.", show_default=False)],
    file: Annotated[Path, typer.Argument(help="The event body as JSON, sent byte for byte.", show_default=False)],
    secret: Annotated[
        str | None,
        typer.Option(envvar="HUB_WEBHOOK_SECRET", help="The source's webhook signing secret.", show_default=False),
    ] = None,
) -> None:
    """Sign FILE as SOURCE signs its webhooks (erp: Standard Webhooks; payment: Stripe-Signature; carrier:
    EasyPost X-Hmac-Signature) and post it to /webhooks/SOURCE.

    Signatures carry the current time; a carrier event's freshness is its own created_at.
    """
    with _reporting():
        if source not in WEBHOOK_SOURCES:
            _fail(ExitCode.INVALID, f"unknown webhook source {source!r}: choose one of {', '.join(WEBHOOK_SOURCES)}")
        if not secret:
            _fail(ExitCode.INVALID, "a webhook secret is required (--secret or HUB_WEBHOOK_SECRET)")
        body = _read_json_file(file)
        headers = {"Content-Type": "application/json", **_signature(source, secret, body)}
        response = _hub(ctx).request("POST", f"/webhooks/{source}", content=body, headers=headers, authenticated=False)
        typer.echo(f"{response.status_code} {response.reason_phrase}")
        if response.content:
            typer.echo(response.text)
        _check(response, key_hint=False)


@notifications_app.command("preview")
def preview_notification(
    event: Annotated[str, typer.Argument(help="The notice kind, e.g. order-shipped.", show_default=False)],
    locale: Annotated[str, typer.Option(help=f"The customer's locale ({', '.join(LANGUAGES)}, fr-CA...).")] = "en",
    out: Annotated[Path, typer.Option(help="Directory to write the preview files to.")] = Path("."),
) -> None:
    """Render EVENT for a made-up customer reading LOCALE and write EVENT.LOCALE.{html,txt,subject,sms} to OUT.

    Needs no hub: it renders the same templates the worker sends, with built-in sample data.
    """
    with _reporting():
        kinds = [kind.value for kind in NoticeKind]
        if event not in kinds:
            _fail(ExitCode.INVALID, f"unknown event {event!r}: choose one of {', '.join(kinds)}")
        if not _LOCALE.fullmatch(locale) or locale.split("-")[0].lower() not in LANGUAGES:
            choices = ", ".join(LANGUAGES)
            _fail(ExitCode.INVALID, f"unsupported locale {locale!r}: choose one of {choices} (or regional, fr-CA)")
        rendered = render(sample(NoticeKind(event), locale))
        files = {
            "html": rendered.html,
            "txt": rendered.text,
            "subject": rendered.subject + "\n",
            "sms": rendered.sms + "\n",
        }
        try:
            out.mkdir(parents=True, exist_ok=True)
            for suffix, content in files.items():
                path = out / f"{event}.{locale}.{suffix}"
                path.write_text(content, encoding="utf-8")
                typer.echo(str(path))
        except OSError as error:
            _fail(ExitCode.INVALID, f"cannot write to {out}: {error.strerror or error}")
    typer.echo(f"subject: {rendered.subject}")


_LOCALE = re.compile(r"[a-z]{2,3}(-[A-Za-z]{4})?(-([A-Z]{2}|[0-9]{3}))?")
"""The shape of ``Customer.locale``."""


def _signature(source: str, secret: str, body: bytes) -> dict[str, str]:
    now = datetime.now(UTC)
    if source == "carrier":
        return sign_easypost(secret, body)
    if source == "payment":
        return sign_stripe(secret, now, body)
    try:
        return sign_standard(secret, f"msg_{uuid.uuid4().hex}", now, body)
    except ValueError as error:
        _fail(ExitCode.INVALID, f"invalid ERP secret: {error}")
