"""The operator's dump: run an anonymous poll (casts, changes, retractions), then read every table,
every Redis key and every log line the run wrote, as an attacker with a dump would, and try each
way of joining voters to ballots. None may work (docs/SECURITY.md lists what remains).
"""

from __future__ import annotations

import logging
import re

import redis
from sqlalchemy import inspect, text

from commons_app.logs import JsonFormatter
from commons_app.services import counts, ratelimit

VOTERS = 8
TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def _everything_in_the_database(engine) -> dict[str, list[dict]]:
    """Every row of every table, read without ORDER BY (in storage order, as a dump has them)."""
    with engine.connect() as conn:
        return {
            table: [dict(row) for row in conn.execute(text(f'SELECT * FROM "{table}"')).mappings()]
            for table in inspect(engine).get_table_names()
        }


def _everything_in_redis(url: str) -> list[str]:
    client = redis.Redis.from_url(url)
    try:
        found = []
        for key in client.scan_iter(count=1000):
            kind = client.type(key).decode()
            value: object
            if kind == "string":
                value = client.get(key)
            elif kind == "hash":
                value = client.hgetall(key)
            elif kind == "zset":
                value = client.zrange(key, 0, -1, withscores=True)
            elif kind == "list":
                value = client.lrange(key, 0, -1)
            elif kind == "set":
                value = client.smembers(key)
            else:
                value = kind
            found.append(f"{key!r} {value!r}")
        return found
    finally:
        client.close()


def test_a_dump_cannot_join_voters_to_anonymous_ballots(
    client, engine, make_user, auth_headers, redis_url, rate_limits, caplog
):
    rate_limits(ballot="1000/minute", api="100000/minute", redis_url=redis_url)
    owner = make_user()
    voters = [make_user() for _ in range(VOTERS)]
    created = client.post("/api/polls/", headers=auth_headers(owner), json={
        "title": "Secret", "options": ["Apple", "Banana", "Cherry"], "anonymous": True, "visibility": "private",
        "anonymity_threshold": 3,
    }).json()
    poll_id, ids = created["id"], [o["id"] for o in created["options"]]
    client.put(f"/api/polls/{poll_id}/voters", headers=auth_headers(owner),
               json={"voters": [{"username": v.username} for v in voters]})
    formatter = JsonFormatter()
    caplog.set_level(logging.DEBUG)
    receipts: dict[int, str] = {}
    every_receipt: set[str] = set()
    for i, voter in enumerate(voters):
        cast = client.post("/api/votes/", headers=auth_headers(voter), json={"poll_id": poll_id, "option_id": ids[i % 3]})
        assert cast.status_code == 201, cast.text
        receipts[voter.id] = cast.json()["receipt"]
    every_receipt |= set(receipts.values())
    ballot_ids = set()
    for voter in voters[:3]:  # three change their minds ...
        changed = client.put(f"/api/polls/{poll_id}/my-vote", headers=auth_headers(voter) | {"X-Ballot-Receipt": receipts[voter.id]},
                             json={"option_id": ids[2]})
        assert changed.status_code == 200, changed.text
        receipts[voter.id] = changed.json()["receipt"]
        ballot_ids.add(changed.json()["id"])
    every_receipt |= set(receipts.values())
    for voter in voters[3:5]:  # ... and two take their ballots back
        gone = client.delete(f"/api/polls/{poll_id}/my-vote", headers=auth_headers(voter) | {"X-Ballot-Receipt": receipts.pop(voter.id)})
        assert gone.status_code == 204, gone.text
    voter_ids = {v.id for v in voters}

    tables = _everything_in_the_database(engine)
    ballots = [b for b in tables["ballots"] if b["poll_id"] == poll_id]
    assert len(ballots) == VOTERS - 2
    ballot_ids |= {b["id"] for b in ballots}
    # 1. The ballots name no voter and carry no time.
    for ballot in ballots:
        assert ballot["user_id"] is None and ballot["created_at"] is None and ballot["updated_at"] is None
    # 2. Their ids are random, not a sequence in the order people voted.
    assert all(b["id"] >= 2**44 for b in ballots)
    assert sorted(b["id"] for b in ballots) != [min(ballot_ids) + i for i in range(len(ballots))]
    # 3. Who voted is a bare list: poll and user, nothing else to join on.
    participants = [p for p in tables["poll_participants"] if p["poll_id"] == poll_id]
    assert {p["user_id"] for p in participants} == voter_ids - {v.id for v in voters[3:5]}
    assert all(set(p) == {"poll_id", "user_id"} for p in participants)
    # 4. Count rows are sharded by the ballot's id, not by the voter's.
    shards = {c["shard"] for c in tables["ballot_counts"] if c["poll_id"] == poll_id}
    assert shards <= {b["id"] % counts.SHARDS for b in ballots}
    # 5. No other row anywhere holds a receipt or an anonymous ballot's id (audit log included).
    secrets_ = {*every_receipt, *(str(i) for i in ballot_ids)}
    for table, rows in tables.items():
        if table in ("ballots",):
            continue
        for row in rows:
            words = set(TOKEN.findall(" ".join(map(str, row.values()))))
            assert not words & secrets_, (table, row)
    audit = [e for e in tables["audit_log"] if e["target_id"] == str(poll_id)]
    assert {e["action"] for e in audit} <= {"poll.create", "poll.roll", "poll.update", "poll.close"}
    # 6. Redis: no receipt, no ballot id, and no key that names a voter (the ballot limit's keys
    #    are a keyed hash of the voter, not the voter's id).
    stored = _everything_in_redis(redis_url)
    assert any(ratelimit.private_key(v.id) in entry for entry in stored for v in voters)
    for entry in stored:
        words = set(TOKEN.findall(entry))
        assert not words & secrets_, entry
        for voter in voters:
            assert f"/ballot/{voter.id}/" not in entry and voter.username not in entry, entry
    # 7. Logs: no receipt and no ballot id in any line.
    lines = [formatter.format(record) for record in caplog.records]
    assert lines, "the run wrote no log line at all"
    for line in lines:
        assert not set(TOKEN.findall(line)) & secrets_, line


def test_closing_rewrites_an_anonymous_poll_in_an_order_that_follows_nobody(client, engine, make_user, auth_headers):
    owner = make_user()
    voters = [make_user() for _ in range(12)]
    created = client.post("/api/polls/", headers=auth_headers(owner), json={
        "title": "Secret", "options": ["Apple", "Banana"], "anonymous": True, "visibility": "private",
    }).json()
    poll_id, ids = created["id"], [o["id"] for o in created["options"]]
    client.put(f"/api/polls/{poll_id}/voters", headers=auth_headers(owner),
               json={"voters": [{"username": v.username} for v in voters]})
    cast_order = []
    for i, voter in enumerate(reversed(voters)):  # voting order differs from user-id order
        body = client.post("/api/votes/", headers=auth_headers(voter), json={"poll_id": poll_id, "option_id": ids[i % 2]}).json()
        cast_order.append(body["receipt"])
    assert client.post(f"/api/polls/{poll_id}/close", headers=auth_headers(owner)).status_code == 200
    tables = _everything_in_the_database(engine)
    stored = [b["receipt"] for b in tables["ballots"] if b["poll_id"] == poll_id]
    people = [p["user_id"] for p in tables["poll_participants"] if p["poll_id"] == poll_id]
    # Read without ORDER BY, the ballots come in receipt order (PostgreSQL) or in the order of
    # their random ids (SQLite), the voters in id order: neither follows the order of voting.
    assert sorted(stored) == sorted(cast_order) and stored != cast_order
    assert people == sorted(v.id for v in voters)
