"""Command line: --version, --help, --check (spec/config.md), a bad file at start."""

import os
import re
import tempfile

import harness
from harness import check, run_cli, base_config, agent_cfg, to_libconfig


def good_text():
    cfg = base_config()
    cfg["store"]["path"] = ":memory:"
    cfg["agents"] = [agent_cfg("alice", "alice-token", skills={"billing": 7})]
    return to_libconfig(cfg)


def write(text, name="switchboard.conf"):
    d = tempfile.mkdtemp(prefix="sb-cli-")
    path = os.path.join(d, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def line_of(text, needle):
    hits = [i + 1 for i, l in enumerate(text.split("\n")) if needle in l]
    assert len(hits) == 1, "needle %r is on lines %s" % (needle, hits)
    return hits[0]


def broken(needle, replacement):
    """The good file with the one line holding `needle` replaced; returns (text, line)."""
    text = good_text()
    n = line_of(text, needle)
    lines = text.split("\n")
    lines[n - 1] = replacement
    return "\n".join(lines), n


async def test_version():
    code, out, err = run_cli("--version")
    check(code == 0, "--version exited %s; stderr %r" % (code, err))
    both = out + err
    check(re.search(r"\d+\.\d+\.\d+", both), "--version printed no version: %r" % both)
    cml = os.path.join(harness.SOURCE_DIR, "CMakeLists.txt")
    if harness.SOURCE_DIR and os.path.exists(cml):
        m = re.search(r"project\(switchboard\s+VERSION\s+([0-9.]+)", open(cml).read())
        if m:
            check(m.group(1) in both, "--version printed %r; the project version is %s"
                  % (both.strip(), m.group(1)))


async def test_help():
    code, out, err = run_cli("--help")
    check(code == 0, "--help exited %s; stderr %r" % (code, err))
    both = out + err
    check("-c" in both and "--check" in both,
          "--help should describe -c and --check: %r" % both)


async def test_unknown_option_fails():
    code, out, err = run_cli("--no-such-option")
    check(code != 0, "--no-such-option exited 0")


async def test_check_good_file():
    path = write(good_text())
    code, out, err = run_cli("--check", "-c", path)
    check(code == 0, "--check -c GOOD exited %s; stderr:\n%s" % (code, err))


async def test_check_sample_configurations():
    """The configurations the project ships validate (those that exist)."""
    for name in ("switchboard.conf", "test.conf"):
        sample = os.path.join(harness.SOURCE_DIR, "conf", name)
        if not (harness.SOURCE_DIR and os.path.exists(sample)):
            print("  (no conf/%s: skipped)" % name)
            continue
        code, out, err = run_cli("--check", "-c", sample, cwd=os.path.dirname(sample))
        check(code == 0, "--check -c conf/%s exited %s; stderr:\n%s" % (name, code, err))


BAD_FILES = [
    # (what, needle, replacement)
    ("unknown key", "default_pool = ", 'default_pool = "frontline"; no_such_key = 1;'),
    ("wrong type", "max_frame_bytes = 65536;", '  max_frame_bytes = "big";'),
    ("unknown pool", 'pools = [ "frontline" ];', '    pools = [ "nowhere" ];'),
    ("level out of range", "billing = 7;", "      billing = 11;"),
    ("unknown skill", "billing = 7;", "      juggling = 7;"),
    ("unknown default language", 'default_language = "en";', '  default_language = "xx";'),
    ("topic naming a missing pool", 'pool = "frontline";',
     None),   # filled below: the first topic's pool
    ("syntax error", "wrap_up_s = 0;", "  wrap_up_s = = 0;"),
]


async def test_check_bad_files_name_file_and_line():
    failures = []
    for what, needle, replacement in BAD_FILES:
        if replacement is None:
            text = good_text()
            lines = text.split("\n")
            n = next(i + 1 for i, l in enumerate(lines) if needle in l)
            lines[n - 1] = lines[n - 1].replace('"frontline"', '"nowhere"')
            text = "\n".join(lines)
        else:
            text, n = broken(needle, replacement)
        path = write(text)
        code, out, err = run_cli("--check", "-c", path)
        want = "%s:%d:" % (path, n)
        if code == 0:
            failures.append("%s: --check exited 0 (line %d: %r)" % (what, n, text.split("\n")[n - 1]))
        elif want not in err:
            failures.append("%s: exit %s, stderr lacks %r:\n      %s"
                            % (what, code, want, err.strip().replace("\n", "\n      ")))
    check(not failures, "bad files:\n  " + "\n  ".join(failures))


async def test_bad_file_at_start_exits_nonzero():
    text, n = broken("max_frame_bytes = 65536;", '  max_frame_bytes = "big";')
    path = write(text)
    code, out, err = run_cli("-c", path, timeout=20)
    check(code != 0, "the server started with a bad file (exit %s)" % code)
    check("%s:%d:" % (path, n) in err, "stderr lacks %s:%d:\n%s" % (path, n, err))
    check("listening on" not in out + err, "the server listened with a bad file")


async def test_missing_file_fails():
    path = os.path.join(tempfile.mkdtemp(prefix="sb-cli-"), "absent.conf")
    code, out, err = run_cli("--check", "-c", path)
    check(code != 0, "--check on a missing file exited 0")
    check(path in err, "the error should name the file: %r" % err)


if __name__ == "__main__":
    harness.run()
