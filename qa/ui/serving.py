"""Running the app: serve() loads the model and index, bounds the queue, sets the login and launches.

It binds 127.0.0.1:7860 unless told otherwise (QA_HOST, QA_PORT) and never opens a share link.
"""

import logging
import os
from collections.abc import Callable

import gradio as gr
from starlette.middleware import Middleware

from qa import Assistant
from qa.ui.assets import CSS, PAGE_JS
from qa.ui.api import PATH as API_PATH
from qa.ui.api import api_routes
from qa.ui.auth import LoginThrottle, exposure_warning, parse_auth
from qa.ui.layout import create_app
from qa.ui.uploads import use_own_upload_folder

logger = logging.getLogger(__name__)


def serve(
    assistant: Assistant | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    block: bool = True,
    warn: Callable[[str], None] = logger.warning,
) -> gr.Blocks:
    """Load the model and index, then run the app (in the background when block is False).

    Every question and upload waits in one queue of at most `queue_max_size` requests (more are
    refused at once); `concurrency_limit` questions are answered at a time. With `auth` set, the
    page and the API need a login; without it, on an address other than loopback, `warn` is
    told so (see `exposure_warning`).

    Raises:
        ConfigError: the auth setting is malformed (before the model loads).
    """
    # After each event Gradio's queue summarises up to 10,000 past events for its monitoring page
    # (a pandas DataFrame: 1.3 ms per event at 1,000 recorded, 6 ms at 10,000, growing with uptime);
    # once every 1,000 events is enough for that page.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    assistant = assistant or Assistant()
    settings = assistant.settings
    auth = parse_auth(settings.app.auth)
    host = host or settings.app.host
    warning = exposure_warning(host, auth)
    if warning:
        warn(warning)
    assistant.warm_up()
    use_own_upload_folder()
    demo = create_app(assistant)
    # api_open=False: a direct POST to /gradio_api/run/ask would skip the queue and its bounds.
    demo.queue(max_size=settings.app.queue_max_size, default_concurrency_limit=settings.app.concurrency_limit, api_open=False)
    throttle = Middleware(
        LoginThrottle,
        failures=settings.app.login_failures,
        window_s=settings.app.login_window_s,
        api_path=API_PATH,
        api_logins=auth,
    )
    demo.launch(
        server_name=host,
        server_port=port or settings.app.port,
        share=False,
        auth=auth,
        # The login page says "Incorrect Credentials" for any refusal, a throttled one too: so it
        # states the rule up front.
        auth_message=(
            f"Log in to ask the reports. After {settings.app.login_failures} failed logins from one address, "
            f"logins from it are refused for {settings.app.login_window_s:g} seconds, the right password too."
        ),
        # The JSON API's route first: Gradio adds its own routes after it (qa.ui.api).
        app_kwargs={"middleware": [throttle], "routes": api_routes(assistant, auth)},
        max_file_size=settings.limits.max_file_bytes,
        theme=gr.themes.Default(  # system fonts: the default theme would fetch Google Fonts
            font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
        ),
        css=CSS,
        js=PAGE_JS,
        prevent_thread_lock=not block,
        quiet=not block,
        footer_links=["api"],
    )
    return demo
