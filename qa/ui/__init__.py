"""The web app's parts, by reason to change; `app.py` beside the package is its entry point.

    rendering.py   HTML and Markdown made from answers, citations and reports (no Gradio)
    assets.py      the page's CSS and JavaScript
    handlers.py    what each event does: plain functions of an Assistant, called by tests directly
    layout.py      create_app(assistant) -> gr.Blocks: the components and their events
    uploads.py     Gradio's upload folder: private copies, safe names, sweeping its leftovers
    auth.py        logins: the QA_AUTH setting, the login throttle, the exposure warning
    serving.py     serve(): queue bounds, login and launch

Only handlers, layout and serving import Gradio (the `ui` extra); `import qa` imports none of this.
"""

import os

# No calls home: this machine is offline. Set here, before any module of the package imports Gradio.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
