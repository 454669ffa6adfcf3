"""The command line as a newcomer meets it: every command and option explained in --help with one
spelling per word, no traceback when a pager or `head` stops reading, no write to the box's system
paths without a configuration, one line for a missing TLS file, and no screenful of gpiozero
warnings off a Pi."""
from __future__ import annotations

import argparse
import re
import subprocess
import sys

from review_rig import sandbox_env


def roomnote(*args, env, timeout=120):
    return subprocess.run([sys.executable, "-m", "roomnote", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=env["HOME"])


def parsers():
    from roomnote.cli import _parser

    def walk(p, path):
        yield path, p
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                helps = {c.dest: c.help for c in a._choices_actions}
                for name, sp in a.choices.items():
                    assert helps.get(name), f"{' '.join(path + [name])}: no description"
                    yield from walk(sp, path + [name])
    return list(walk(_parser(), ["roomnote"]))


def test_every_command_and_option_has_a_description():
    missing = [f"{' '.join(path)} {a.option_strings or a.dest}" for path, p in parsers() for a in p._actions
               if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) and not a.help]
    assert missing == []


def test_help_spells_each_word_one_way():
    # the commands are `finalize` and `enroll`; their help says so too (not finalise, enrol)
    text = "\n".join(p.format_help() for _, p in parsers())
    assert not re.search(r"\bfinalis|\benrol\b|\benrolment|\benroled", text, re.I), \
        sorted(set(re.findall(r"\w*finalis\w*|\benrol\w*", text, re.I)))
    assert "finalize" in text and "enroll" in text


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path):
    env = sandbox_env(tmp_path)
    r = subprocess.run(f"{sys.executable} -m roomnote models list | head -1", shell=True, capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.stdout.startswith("manifest: ") and r.stderr == "", r.stderr


def test_models_list_is_aligned_and_counts_files_in_words(tmp_path):
    r = roomnote("models", "list", env=sandbox_env(tmp_path))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()[1:]
    assert lines[0].split()[:2] == ["MODEL", "KIND"]
    state_col = lines[0].index("STATE")  # every row's state starts under its heading
    assert all(line[state_col - 2:state_col] == "  " and line[state_col] != " " for line in lines), lines
    assert " 1 files" not in r.stdout and re.search(r"\b1 file\b", r.stdout)


def test_without_a_config_nothing_writes_the_boxs_system_paths(tmp_path):
    env = sandbox_env(tmp_path)
    env.pop("INVOCATION_ID", None)
    for args in (["keys", "init"], ["publisher"], ["outbox", "send"], ["review"]):
        r = roomnote(*args, env=env)
        assert r.returncode == 2 and "no --config given" in r.stderr and len(r.stderr.splitlines()) == 1, (args, r)
    assert not (tmp_path / "home" / "roomnote-inbox").exists()


def test_a_missing_ca_file_stops_the_publisher_in_one_line(tmp_path):
    env = sandbox_env(tmp_path)
    cfg = tmp_path / "box.toml"
    cfg.write_text(f'[mqtt]\nca_file = "{tmp_path}/missing-ca.pem"\ncert_file = "{tmp_path}/d.pem"\n'
                   f'key_file = "{tmp_path}/d.key"\n[keys]\noutbox_key = "{tmp_path}/k/outbox.key"\n'
                   f'signing_key = "{tmp_path}/k/signing.key"\n[outbox]\ndir = "{tmp_path}/outbox"\n'
                   f'[retention]\ndir = "{tmp_path}/sessions"\n[audit]\nfile = "{tmp_path}/audit.log"\n')
    assert roomnote("keys", "init", "--config", str(cfg), env=env).returncode == 0
    r = roomnote("publisher", "--config", str(cfg), env=env, timeout=30)
    assert r.returncode == 2 and "mqtt.ca_file" in r.stderr and "missing-ca.pem" in r.stderr, r
    assert "running" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_selftest_off_a_pi_says_so_in_one_line_without_gpiozero_warnings(tmp_path):
    env = {k: v for k, v in sandbox_env(tmp_path).items() if k != "GPIOZERO_PIN_FACTORY"}
    cfg = tmp_path / "box.toml"
    cfg.write_text('[mqtt]\nenabled = false\n')
    r = roomnote("selftest", "--config", str(cfg), "--skip", "microphone,models", "--button-timeout", "1",
                 "--no-publish", env=env)
    assert "PinFactoryFallback" not in r.stderr and "warnings.warn" not in r.stderr, r.stderr
    assert re.search(r"^button +FAIL +no GPIO pins found", r.stdout, re.M), r.stdout



def test_provision_of_a_card_takes_the_service_user_from_the_card(tmp_path):
    env = sandbox_env(tmp_path)
    office = tmp_path / "office.toml"
    office.write_text('[office]\nid = "north"\ndevice = "room-a"\n[broker]\nenabled = false\n')
    card = tmp_path / "card"
    (card / "etc").mkdir(parents=True)
    (card / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    r = roomnote("provision", "--office", str(office), "--root", str(card), env=env)
    assert r.returncode == 2 and f"{card}/etc/passwd" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r
    (card / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\nroomnote:x:987:986::/var/lib/roomnote:/usr/sbin/nologin\n")
    r = roomnote("provision", "--office", str(office), "--root", str(card), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith(f"paths below are the box's own; on this machine they are under {card}")
    key = card / "var/lib/roomnote/keys/outbox.key"
    assert (key.stat().st_uid, key.stat().st_gid) == (987, 986)  # the card's user, not this machine's


def test_models_install_into_a_card_needs_its_configuration(tmp_path):
    env = sandbox_env(tmp_path)
    (tmp_path / "card").mkdir()
    (tmp_path / "bundle.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    r = roomnote("models", "install", str(tmp_path / "bundle.zip"), "--root", str(tmp_path / "card"), env=env)
    assert r.returncode == 2 and "roomnote provision --root" in r.stderr and len(r.stderr.strip().splitlines()) == 1
