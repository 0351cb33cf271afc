"""The web app: a chat with cited answers, a source viewer and the list of ingested reports.

    python app.py        # or: qa serve [--host H] [--port P], or: make run

It binds 127.0.0.1:7860 unless told otherwise (QA_HOST, QA_PORT) and never opens a share link;
QA_AUTH turns on a login. Questions and uploads wait in one bounded queue (QA_QUEUE_MAX_SIZE) and
QA_CONCURRENCY_LIMIT questions are answered at once.

This file is the entry point only (`qa serve` loads it by its path); the app itself is the
package qa.ui, one module per concern: rendering, assets, handlers (plain functions of an
Assistant, which tests call without a server), layout, uploads, auth and serving.
"""

from qa.ui.auth import parse_auth
from qa.ui.layout import create_app
from qa.ui.serving import serve

__all__ = ["create_app", "parse_auth", "serve"]

if __name__ == "__main__":
    serve()
