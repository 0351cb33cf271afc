"""Packaging promises: a light `import qa`, and nothing fetched from the network."""

import subprocess
import sys
import textwrap

import pytest

from qa.config import BUNDLED_CORPUS_DIR


HEAVY = "('torch', 'chromadb', 'gradio', 'llama_index', 'sentence_transformers')"


@pytest.mark.parametrize(
    "code",
    [
        "import qa\nassert {'Assistant', 'Answer', 'Citation', 'Settings'} <= set(dir(qa))\n",
        "from click.testing import CliRunner\nfrom qa.cli import main\n"
        "result = CliRunner().invoke(main, ['--help'])\nassert result.exit_code == 0 and 'qa ask' in result.output\n",
    ],
    ids=["import qa", "qa --help"],
)
def test_import_and_help_stay_light(code):
    code = "import sys\n" + code + f"print([m for m in {HEAVY} if m in sys.modules])\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_ingest_and_ask_work_with_the_network_forbidden(tmp_path, backend):
    """Any connection to a non-local address raises: the whole flow must still work (the onnx
    backend exports its model from the bundled weights here too)."""
    code = textwrap.dedent(
        f"""
        import os, socket
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
            os.environ.pop(name, None)  # the package itself must turn these on
        real_connect = socket.socket.connect
        attempts = []
        def guarded(self, address):
            host = address[0] if isinstance(address, tuple) else address
            if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1") or host.startswith("/")):
                attempts.append(host)
                raise OSError("network forbidden in this test: " + str(host))
            return real_connect(self, address)
        socket.socket.connect = guarded
        from qa import Assistant
        a = Assistant(
            index_dir={str(tmp_path / 'idx')!r},
            corpus_dir={str(BUNDLED_CORPUS_DIR)!r},
            embedding_backend={backend!r},
            model_cache_dir={str(tmp_path / 'cache')!r},
        )
        answer = a.ask("How many civilians were killed in Maarat al Numan on Wednesday?")
        assert "at least 16" in answer.text, answer.text
        assert a.embedder.backend == {backend!r}
        print("attempts", attempts)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "attempts []" in done.stdout
