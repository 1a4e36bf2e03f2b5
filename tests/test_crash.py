"""A process killed in the middle of bulk registration leaves a consistent register."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import func, select

from custmdm.register import Register
from custmdm.store.tables import code_counter, customer, customer_code, identifier

LOADER = textwrap.dedent("""
    import sys
    from custmdm import open_register
    from custmdm.demo.generator import DemoGenerator
    reg = open_register(sys.argv[1], actor="loader")
    print("ready", flush=True)
    reg.register_many(DemoGenerator(seed=11).customers(1_000_000), batch_size=500)
""")


def _count(reg: Register) -> int:
    with reg.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(customer)).scalar_one())


@pytest.mark.slow
def test_sigkill_during_bulk_registration(reg: Register) -> None:
    from custmdm.demo.loader import install_demo_rules

    install_demo_rules(reg)
    reg.add_user("loader")
    reg.grant("loader", "sales", "all")
    proc = subprocess.Popen([sys.executable, "-c", LOADER, reg.store.url],
                            stdout=subprocess.PIPE, env=os.environ.copy())
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    deadline = time.monotonic() + 120
    while _count(reg) < 2_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.13)  # most likely in the middle of a batch now
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    registered = _count(reg)
    assert registered >= 2_000
    assert registered % 500 == 0, "a batch was half-committed"
    with reg.store.read() as conn:
        codes = conn.execute(select(func.count()).select_from(customer_code)
                             .where(customer_code.c.status == "active")).scalar_one()
        idents = conn.execute(select(func.count()).select_from(identifier)).scalar_one()
        counters = conn.execute(select(func.sum(code_counter.c.next_value - 1))).scalar_one()
    assert codes == registered
    assert idents >= registered * 0.9  # a few foreign customers carry no identifier
    assert counters == registered  # bulk numbers are taken inside the batch: no gap either
    report = reg.check_codes()
    assert report.ok, report.problems
    chain = reg.verify_audit()  # every committed entry chained, none half-written
    assert chain.intact, chain.problem


SINGLE_LOADER = textwrap.dedent("""
    import sys
    from custmdm import open_register
    from custmdm.demo.generator import DemoGenerator
    reg = open_register(sys.argv[1], actor="clerk")
    print("ready", flush=True)
    for draft in DemoGenerator(seed=12).customers(1_000_000):
        reg.register(draft, override_reason="demo data may repeat a trade name")
""")


@pytest.mark.slow
def test_sigkill_during_single_registrations_leaves_every_gap_explained(reg: Register) -> None:
    reg.add_rule("gov", "G{seq:7}{check:mod37-2}", kind="government", gapless=True,
                 priority=1)
    reg.add_rule("all", "C{kind}{seq:7}{check:mod37-2}", priority=2)
    reg.add_user("clerk")
    reg.grant("clerk", "sales", "all")
    proc = subprocess.Popen([sys.executable, "-c", SINGLE_LOADER, reg.store.url],
                            stdout=subprocess.PIPE, env=os.environ.copy())
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    deadline = time.monotonic() + 120
    while _count(reg) < 300 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    registered = _count(reg)
    assert registered >= 300
    report = reg.check_codes()
    assert report.ok, report.problems  # gapless series has no hole, nothing collides
    chain = reg.verify_audit()
    assert chain.intact, chain.problem
    counts = report.counts
    assert counts["active"] == registered
    # Numbers taken but not used: reserved ahead by the killed process (PostgreSQL,
    # gap-allowed only), recorded as such, so every gap is explained.
    with reg.store.read() as conn:
        taken = conn.execute(select(func.sum(code_counter.c.next_value - 1))).scalar_one()
    assert taken == sum(counts.values())
    if not reg.store.reserves_separately:
        assert "reserved" not in counts


@pytest.mark.slow
def test_killing_the_demo_loader_leaves_no_helper_behind(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The demo loader's helper process dies with it, and no batch is half-written."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    cli = "import sys; from custmdm.cli.main import app; sys.argv[0] = 'custmdm'; app()"
    subprocess.run([sys.executable, "-c", cli, "--db", url, "init"], check=True,
                   capture_output=True)
    loader = subprocess.Popen([sys.executable, "-c", cli, "--db", url, "demo", "-n",
                               "2000000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from custmdm import open_register

    reg = open_register(url)
    deadline = time.monotonic() + 120
    while _count(reg) < 10_000 and time.monotonic() < deadline:
        time.sleep(0.1)
    helpers = subprocess.run(["ps", "-o", "pid=", "--ppid", str(loader.pid)],
                             capture_output=True, text=True).stdout.split()
    assert helpers, "the loader should have a helper process"
    loader.send_signal(signal.SIGKILL)
    loader.wait(timeout=30)
    deadline = time.monotonic() + 10
    alive = helpers
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in helpers if os.path.exists(f"/proc/{p}")]
    assert alive == []
    assert _count(reg) % 5000 == 0
    assert reg.check_codes().ok
    assert reg.verify_audit().intact
    reg.close()


MERGER = textwrap.dedent("""
    import json, sys
    from custmdm import open_register
    reg = open_register(sys.argv[1], actor="merger")
    pairs = json.loads(open(sys.argv[2]).read())
    print("ready", flush=True)
    for survivor, loser in pairs:
        if reg.find(loser).customer.code != loser:
            continue  # merged before an earlier kill
        reg.merge(survivor, [loser], reason="crash test")
        print(loser, flush=True)  # committed
""")


@pytest.mark.slow
def test_sigkill_during_merges_repeatedly_leaves_each_merge_whole_or_absent(
        reg: Register, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Kill the merging process at random moments, five times over: every merge it
    reported is there, none is half done, codes and the audit chain check out."""
    import json
    import random

    from custmdm import CustomerDraft
    from custmdm.store.tables import merge

    for rule in reg.match_rules():  # look-alike pairs on purpose
        reg.set_match_rule(rule.kind, rule.action, None)
    reg.add_rule("all", "C{seq:6}{check:mod37-2}")
    reg.add_user("merger")
    reg.grant("merger", "data_steward")
    drafts = [CustomerDraft(kind="enterprise", legal_name=f"深圳市第{n}号科技有限公司",
                            region="440305") for n in range(1000)]
    records = [reg.register(d) for d in drafts]
    codes = [r.code for r in records]
    ids = {r.code: r.id for r in records}
    pairs = list(zip(codes[::2], codes[1::2], strict=True))
    (tmp_path / "pairs.json").write_text(json.dumps(pairs))
    reported: set[str] = set()
    chance = random.Random(2026)
    for _ in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-c", MERGER, reg.store.url, str(tmp_path / "pairs.json")],
            stdout=subprocess.PIPE, env=os.environ.copy(), text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(chance.uniform(0.2, 0.9))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        reported |= {line.strip() for line in out.splitlines() if line.strip()}
        with reg.store.read() as conn:
            merged_ids = set(conn.execute(select(customer.c.id)
                                          .where(customer.c.lifecycle == "merged")).scalars())
            merges = conn.execute(select(func.count()).select_from(merge)).scalar_one()
        merged_losers = {code for code, cid in ids.items() if cid in merged_ids}
        assert reported <= merged_losers  # nothing reported committed was lost
        assert merges == len(merged_losers)  # a merge row for each merged customer, no more
        for survivor, loser in pairs:
            found = reg.find(loser)
            if loser in merged_losers:  # whole: the loser's code resolves to the survivor
                assert found.customer.code == survivor and found.requested_status == "superseded"
            else:  # or absent: both untouched
                assert found.customer.code == loser and found.customer.status == "active"
        report = reg.check_codes()
        assert report.ok, report.problems
        chain = reg.verify_audit()
        assert chain.intact, chain.problem
    assert reported, "the merger never got to merge anything"


BACKUP = textwrap.dedent("""
    import sys
    from custmdm import open_register
    reg = open_register(sys.argv[1], actor="tester")
    print("ready", flush=True)
    for n in range(1000):
        reg.backup(sys.argv[2])
""")


@pytest.mark.slow
def test_sigkill_during_backups_never_leaves_half_a_backup(reg: Register, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A backup file is there whole or not at all, whenever the writer dies."""
    import random
    import tempfile
    from pathlib import Path

    from custmdm.demo.generator import DemoGenerator
    from custmdm.io.backup import extract_verified, read_manifest

    reg.add_rule("all", "C{kind}{seq:6}{check:mod37-2}")
    reg.register_many(DemoGenerator(seed=5).customers(3000))
    target = tmp_path / "backups" / "nightly.backup"
    chance = random.Random(7)
    whole = 0
    for _ in range(8):
        target.unlink(missing_ok=True)
        proc = subprocess.Popen([sys.executable, "-c", BACKUP, reg.store.url, str(target)],
                                stdout=subprocess.PIPE, env=os.environ.copy(), text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(chance.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if target.exists():
            manifest, archive = read_manifest(target)
            with archive, tempfile.TemporaryDirectory() as work:
                extract_verified(target, manifest, archive, Path(work))  # raises if partial
            assert manifest["counts"]["customers"] == 3000
            whole += 1
        leftovers = [p.name for p in target.parent.iterdir() if p.name != target.name]
        assert all(name.startswith(".") for name in leftovers)  # only hidden temporaries
    assert reg.verify_audit().intact
    assert whole, "no backup finished before a kill: kill later"


ROTATOR = textwrap.dedent("""
    import sys
    from custmdm import open_register
    reg = open_register(sys.argv[1], actor="tester")
    print("ready", flush=True)
    reg.rotate_key("data", resume=sys.argv[2] == "resume", batch_size=40,
                   progress=lambda n: print(n, flush=True))
""")


@pytest.mark.slow
def test_sigkill_during_data_key_rotation_loses_nothing_and_resumes(reg: Register) -> None:
    """Kill the process re-encrypting under a new data key at random moments, six times
    (new rotations and resumed ones): every value still opens to what was registered,
    the register checks out, and a last resumed run puts every value under the current
    key."""
    import random

    from custmdm.demo.generator import DemoGenerator
    from custmdm.demo.loader import install_demo_rules
    from custmdm.security.keys import Keyring
    from custmdm.store.tables import contact

    install_demo_rules(reg)
    reg.register_many(DemoGenerator(seed=5).customers(2_000), batch_size=500)

    def opened() -> tuple[list[tuple[int, str, str]], list[tuple[int, str]], set[str]]:
        """Every contact and person's number, opened with the key file as it is now,
        and the keys their values are under."""
        reg.store.use_keyring(Keyring.load())
        fields = reg.store.fields
        with reg.store.read() as conn:
            contacts = conn.execute(select(contact.c.id, contact.c.kind, contact.c.value,
                                           contact.c.canonical).order_by(contact.c.id)).all()
            numbers = conn.execute(select(identifier.c.id, identifier.c.scheme,
                                          identifier.c.value, identifier.c.sealed)
                                   .where(identifier.c.sealed.is_not(None))
                                   .order_by(identifier.c.id)).all()
        keys = {v.split(":")[1] for _, _, v, _ in contacts}
        return ([(i, *fields.contact_of(k, v, c)[1:]) for i, k, v, c in contacts],
                [(i, fields.identifier_of(s, v, sealed)) for i, s, v, sealed in numbers],
                keys)

    contacts, numbers, _ = opened()
    assert len(contacts) > 1_000 and len(numbers) > 200
    chance = random.Random(2027)
    batches_seen = 0
    for attempt in range(6):
        mode = "resume" if attempt % 2 else "new"
        proc = subprocess.Popen([sys.executable, "-c", ROTATOR, reg.store.url, mode],
                                stdout=subprocess.PIPE, env=os.environ.copy(), text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for _ in range(chance.randint(1, 12)):  # some batches committed, then any moment
            if proc.stdout.readline():
                batches_seen += 1
        time.sleep(chance.uniform(0, 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        now_contacts, now_numbers, keys = opened()
        assert now_contacts == contacts and now_numbers == numbers
        chain = reg.verify_audit()
        assert chain.intact, chain.problem
    assert batches_seen >= 6, "the rotation never got going before it was killed"
    assert len(keys) >= 2  # values under more than one key: the kills were mid-way
    rotation = reg.rotate_key("data", resume=True)
    assert rotation.resealed is not None and rotation.resealed > 0
    now_contacts, now_numbers, keys = opened()
    assert (now_contacts, now_numbers) == (contacts, numbers)
    assert keys == {reg.store.keyring.current["data"]}
    assert reg.check_codes().ok and reg.verify_audit().intact
