"""What the app's test modules share: the questions and reports they use, and small helpers
(the fixtures that start a server or a browser are in conftest.py)."""

import socket
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUESTION = "Which monitor reported the deaths in Maarat al Numan?"
ANSWER = "Syrian Observatory for Human Rights"
NEW_REPORT = (
    "Flooding cuts road to Afrin camps\n\n"
    "Heavy rain flooded the road between Afrin and the Atmeh camps on Tuesday. "
    "The Syrian Civil Defence said 340 tents were washed away near the village of Deir Ballut. "
    "Aid trucks were turned back at the crossing.\n"
)
NEW_QUESTION = "How many tents were washed away near Deir Ballut?"
INJECTION_REPORT = (
    '<img src=x onerror="window.__pwned=1;alert(1)"> Zarzour market bulletin\n\n'
    "Traders in the market of Zarzour counted 77 shops destroyed <script>window.__pwned=2;alert(2)</script> "
    "after the shelling on Sunday (photos at https://evil.example/x and www.evil.example).\n"
)
INJECTION_QUESTION = 'How many shops were destroyed in Zarzour? <img src=x onerror="window.__pwned=3">'


def write_upload(folder: Path, name: str, content: str | bytes) -> str:
    """A file as Gradio hands an upload to a handler: a copy in a folder of its own."""
    target = folder / f"upload-{len(list(folder.iterdir())) if folder.exists() else 0}" / name
    target.parent.mkdir(parents=True)
    target.write_bytes(content.encode() if isinstance(content, str) else content)
    return str(target)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask_in_browser(page, question: str) -> None:
    """Type a question, press Enter and wait until its answer has finished streaming."""
    answers = page.locator("#qa-chat .bot-row").count()
    page.fill("#qa-question textarea", question)
    page.keyboard.press("Enter")
    # The answer's first words and the "Answering…" panel arrive in one update.
    page.wait_for_function("n => document.querySelectorAll('#qa-chat .bot-row').length > n", arg=answers)
    page.wait_for_function("() => !document.querySelector('#qa-sources').innerText.includes('Answering')")
