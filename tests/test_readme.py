"""The README's first session runs as pasted, in Python and in Node, against a real server.

The snippets read the account and the base URL from the environment, so the test runs them
unchanged; whatever they print is checked here, so the README cannot drift from the server.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.test_node_sdk import install_node_sdk

README = Path(__file__).resolve().parents[1] / "README.md"
RECALLED = "recalled ['Prefers a call back in the morning']"


def snippet(language: str) -> str:
    """The one fenced ``language`` block of the README's "A first session" section."""
    section = README.read_text().split("\n## A first session\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(rf"^```{language}\n(.*?)^```$", section, flags=re.DOTALL | re.MULTILINE)
    assert len(blocks) == 1, f"expected one {language} block in the first session, found {len(blocks)}"
    return blocks[0]


def session_env(server, account, **extra) -> dict:
    return {
        **os.environ,
        "CONVMEM_URL": server.base_url,
        "TWILIO_ACCOUNT_SID": account.sid,
        "TWILIO_AUTH_TOKEN": account.secret,
        **extra,
    }


def run(command: list[str], env: dict, cwd: Path) -> str:
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_python_first_session_runs_as_pasted(server, account, tmp_path):
    script = tmp_path / "first_session.py"
    script.write_text(snippet("python"))
    out = run([sys.executable, str(script)], session_env(server, account), tmp_path)
    assert re.search(r"^store mem_store_\w+$", out, flags=re.MULTILINE), out
    assert "'lastName': 'Lovelace'" in out
    assert "import COMPLETED {'errors': 0, 'warnings': 0}" in out
    assert RECALLED in out


def test_the_node_first_session_runs_as_pasted(server, account, tmp_path):
    node_modules = install_node_sdk()
    script = tmp_path / "first_session.js"
    script.write_text(snippet("js"))
    out = run(["node", str(script)], session_env(server, account, NODE_PATH=str(node_modules)), tmp_path)
    assert re.search(r"^store mem_store_\w+$", out, flags=re.MULTILINE), out
    assert "lastName: 'Lovelace'" in out
    assert "import COMPLETED" in out and "errors: 0, warnings: 0" in out
    assert RECALLED.replace("[", "[ ").replace("]", " ]") in out


def test_ci_runs_the_readmes_test_command_as_written():
    """The README's test command (chromium included) is the line ``.ci/run`` runs."""
    section = README.read_text().split("\n## Two commands\n", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^```bash\n(.*?)\n```$", section, flags=re.DOTALL | re.MULTILINE)
    (test_command,) = [command for command in commands if "pytest" in command]
    assert "chromium" in test_command
    assert test_command in (README.parent / ".ci" / "run").read_text().splitlines()
