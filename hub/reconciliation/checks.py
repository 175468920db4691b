"""The five checks, each one SQL statement over the stored statement rows, the hub's rows and the ledger's.

Each check inserts what it finds into the temporary table ``recon_found`` (kind, CSD, ISIN, account,
reference, expected, actual, detail, and for checks 1 and 4 the window of days they looked at); ``services``
then upserts breaks from it in one statement. Nothing here loops over rows in Python, except the ledger's
own verifier (check 5a), which recomputes the chain.

1. ``BALANCE`` (RTS 2017/392 art. 59), per CSD of the run, account and ISIN: the baseline close plus the
   movements since equals the current holdings; every account, the short contra accounts (issuance,
   mirror) included.
2. ``OMNIBUS``, per active link and ISIN of the issuer CSD: the investor CSD's participants hold what its
   omnibus account at the issuer holds.
3. ``ISSUED``, per ISIN: participants across every CSD hold what was issued. The quantity issued is the
   hub's own record, minus the registry's opening position of the issuer CSD's issuance account; it is
   not read from the issuer's statement of its issuance account (which travels, short, and is checked by
   check 1), because the issuer's books balance by double entry whatever was created, so their own
   issuance figure could never show an undue creation.
4. ``MV_MISS``/``MV_DIFF``/``MV_UNKN``, per CSD of the run: every committed leg of a transfer settled by
   the time the statements were asked for (``pulled_at``, taken before the first request; ``settled_at``,
   the protocol's clock read once every CSD has confirmed its posting) is on both of its
   accounts' statements of transactions with its quantity, ISIN and date (the date the CSD booked it on, as
   its confirmation gave it; for a leg recorded without one, the transfer's settlement day in the CSD's time
   zone), and no omnibus or mirror account shows a movement under a reference that is not a leg the hub
   committed at that CSD.
5. ``LG_CHAIN``: the shared ledger verifies (``hub.ledger.selectors.chain_verify``), its hub key in force
   the one the hub is configured with, as ``manage.py ledger_verify`` checks it; ``LG_REC``: every
   settled transfer has a COMMIT entry whose record hashes to its record hash and says what the transfer's
   and its legs' rows say; and the other way round (``LEDGER_OUTCOMES``): every COMMIT entry's transfer
   and every committed leg's transfer is SETTLED (``LG_OPEN``, ``LEG_OPEN``; one still committing within
   the grace period is not yet), and every settled transfer has its SETTLED entry (``LG_NOSTL``).

Checks 2, 3 and 5 compare CSDs with each other: they run only when every active CSD has a statement, and
checks 2 and 3 read each CSD's latest statement of its current day (``as_of`` the CSD's own date when it was
pulled: a close of an earlier day taken late is not one) only when it is recent (pulled within
``RECONCILIATION_CROSS_MAX_AGE_SECONDS`` of the run): a link, or an ISIN, that needs a CSD without such a
statement (or one lacking a participant account) is left out, and the run's notes say which and
why (``cross_unchecked``). Accounts with a gap in a statement are left out rather than guessed.
"""

import datetime as dt

from django.db import connection

from hub.ledger.errors import LedgerError
from hub.ledger.keys import configured_hub_key_id
from hub.ledger.selectors import chain_verify

PARTICIPANT = "('OWN', 'CLIENT')"

CREATE_FOUND = """
CREATE TEMPORARY TABLE recon_found (
    kind varchar(8) NOT NULL,
    csd_id bigint,
    isin varchar(12) NOT NULL DEFAULT '',
    account varchar(35) NOT NULL DEFAULT '',
    reference varchar(100) NOT NULL DEFAULT '',
    expected numeric,
    actual numeric,
    detail varchar(300) NOT NULL DEFAULT '',
    since date,
    until date
) ON COMMIT DROP
"""

# Each CSD's latest statement of its current day (holdings as of the CSD's own date when they were pulled),
# provided it was pulled since ``fresh_since`` (the run's clock less RECONCILIATION_CROSS_MAX_AGE_SECONDS):
# an older one (a CSD down since yesterday) is not compared with the others' statements of today, nor is a
# close of an earlier day taken late (an end-of-day run past local midnight, or delivered the next morning,
# or a weekend's re-close of Friday): it holds that day's figures, not the CSD's figures now.
LATEST = """
latest AS (
    SELECT DISTINCT ON (s.csd_id) s.id, s.csd_id
    FROM reconciliation_statement s JOIN reconciliation_run r ON r.id = s.run_id
    JOIN registry_csd sc ON sc.id = s.csd_id
    WHERE s.role = 'CURRENT' AND (r.status = 'DONE' OR r.id = %(run)s) AND s.pulled_at >= %(fresh_since)s
      AND s.as_of = (s.pulled_at AT TIME ZONE sc.timezone)::date
    ORDER BY s.csd_id, s.pulled_at DESC, s.id DESC
)"""

# The CSDs whose participants' total is not known: no recent statement, or one lacking a participant
# account. Then the ISINs whose check 3 can be made: every CSD that may hold one (its issuer, and each
# CSD linked to the issuer, active link or not) has its participants' total. And the omnibus accounts of
# the active links whose check 2 can be made: the issuer's recent statement has the omnibus account, and
# the investor CSD's participants' total is known. The checks and the resolution of their breaks read
# these same sets, so a run resolves nothing where it did not look.
INCOMPLETE = f"""
incomplete AS (
    SELECT c.id AS csd_id FROM registry_csd c
    WHERE NOT EXISTS (SELECT 1 FROM latest l WHERE l.csd_id = c.id)
       OR EXISTS (
           SELECT 1 FROM latest l JOIN reconciliation_gap g ON g.statement_id = l.id
           JOIN registry_securitiesaccount a ON a.id = g.account_id
           WHERE l.csd_id = c.id AND a.kind IN {PARTICIPANT} AND g.what <> 'baseline')
), issued_checked AS (
    SELECT sec.isin, sec.issuer_csd_id FROM registry_security sec
    WHERE sec.issuer_csd_id NOT IN (SELECT csd_id FROM incomplete)
      AND NOT EXISTS (
          SELECT 1 FROM registry_csdlink k
          WHERE k.issuer_csd_id = sec.issuer_csd_id AND k.investor_csd_id IN (SELECT csd_id FROM incomplete))
), omnibus_checked AS (
    SELECT acc.id AS account_id, k.issuer_csd_id, k.investor_csd_id, si.id AS issuer_statement_id
    FROM registry_csdlink k
    JOIN registry_securitiesaccount acc ON acc.link_id = k.id AND acc.kind = 'OMNIBUS'
    JOIN latest si ON si.csd_id = k.issuer_csd_id
    WHERE k.is_active
      AND k.investor_csd_id NOT IN (SELECT csd_id FROM incomplete)
      AND NOT EXISTS (
          SELECT 1 FROM reconciliation_gap g
          WHERE g.statement_id = si.id AND g.account_id = acc.id AND g.what <> 'baseline')
)"""  # noqa: S608 - only this module's constants are interpolated

BALANCE = """
INSERT INTO recon_found (kind, csd_id, isin, account, expected, actual, detail, since, until)
WITH cur AS (
    SELECT id, csd_id, baseline_id, movements_since, movements_until
    FROM reconciliation_statement WHERE run_id = %(run)s AND role = 'CURRENT'
), expected AS (
    SELECT c.id AS sid, c.csd_id, p.account_id, p.isin, p.quantity
    FROM cur c JOIN reconciliation_position p ON p.statement_id = c.baseline_id
    UNION ALL
    SELECT c.id, c.csd_id, m.account_id, m.isin, m.quantity
    FROM cur c JOIN reconciliation_movement m ON m.statement_id = c.id
), e AS (
    SELECT sid, csd_id, account_id, isin, sum(quantity) AS q FROM expected GROUP BY sid, csd_id, account_id, isin
), a AS (
    SELECT c.id AS sid, c.csd_id, p.account_id, p.isin, p.quantity AS q
    FROM cur c JOIN reconciliation_position p ON p.statement_id = c.id
)
SELECT 'BALANCE', coalesce(e.csd_id, a.csd_id), coalesce(e.isin, a.isin), acc.number,
       coalesce(e.q, 0), coalesce(a.q, 0), 'previous close plus movements since, against holdings now',
       cur.movements_since, cur.movements_until
FROM e FULL JOIN a ON a.sid = e.sid AND a.account_id = e.account_id AND a.isin = e.isin
JOIN registry_securitiesaccount acc ON acc.id = coalesce(e.account_id, a.account_id)
JOIN cur ON cur.id = coalesce(e.sid, a.sid)
WHERE coalesce(e.q, 0) <> coalesce(a.q, 0)
  AND NOT EXISTS (
      SELECT 1 FROM cur c JOIN reconciliation_gap g ON g.statement_id IN (c.id, c.baseline_id)
      WHERE c.id = coalesce(e.sid, a.sid) AND g.account_id = coalesce(e.account_id, a.account_id)
  )
"""

OMNIBUS = f"""
INSERT INTO recon_found (kind, csd_id, isin, account, expected, actual, detail)
WITH {LATEST}, {INCOMPLETE}, part AS (
    SELECT l.csd_id, p.isin, sum(p.quantity) AS q
    FROM latest l JOIN reconciliation_position p ON p.statement_id = l.id
    WHERE p.kind IN {PARTICIPANT} GROUP BY l.csd_id, p.isin
)
SELECT 'OMNIBUS', oc.issuer_csd_id, sec.isin, acc.number, coalesce(part.q, 0), coalesce(po.quantity, 0),
       'participants of ' || inv.code || ' against its omnibus account at ' || iss.code
FROM omnibus_checked oc
JOIN registry_csd inv ON inv.id = oc.investor_csd_id
JOIN registry_csd iss ON iss.id = oc.issuer_csd_id
JOIN registry_securitiesaccount acc ON acc.id = oc.account_id
JOIN registry_security sec ON sec.issuer_csd_id = oc.issuer_csd_id
LEFT JOIN part ON part.csd_id = oc.investor_csd_id AND part.isin = sec.isin
LEFT JOIN reconciliation_position po
       ON po.statement_id = oc.issuer_statement_id AND po.account_id = acc.id AND po.isin = sec.isin
WHERE coalesce(part.q, 0) <> coalesce(po.quantity, 0)
"""  # noqa: S608 - only this module's constants are interpolated

ISSUED = f"""
INSERT INTO recon_found (kind, csd_id, isin, expected, actual, detail)
WITH {LATEST}, {INCOMPLETE}, issued AS (
    SELECT sec.isin, sec.issuer_csd_id, -h.quantity AS q
    FROM issued_checked sec
    JOIN registry_security s ON s.isin = sec.isin
    JOIN registry_securitiesaccount a ON a.csd_id = sec.issuer_csd_id AND a.kind = 'ISSUANCE'
    JOIN registry_holding h ON h.account_id = a.id AND h.security_id = s.id
), held AS (
    SELECT p.isin, sum(p.quantity) AS q
    FROM latest l JOIN reconciliation_position p ON p.statement_id = l.id
    WHERE p.kind IN {PARTICIPANT} GROUP BY p.isin
)
SELECT 'ISSUED', i.issuer_csd_id, i.isin, i.q, coalesce(held.q, 0),
       'participants across every CSD against the quantity issued'
FROM issued i LEFT JOIN held ON held.isin = i.isin
WHERE i.q <> coalesce(held.q, 0)
"""  # noqa: S608 - only this module's constants are interpolated

MOVEMENTS = """
INSERT INTO recon_found (kind, csd_id, isin, account, reference, expected, actual, detail, since, until)
WITH cur AS (
    SELECT id, csd_id, movements_since, movements_until, pulled_at
    FROM reconciliation_statement WHERE run_id = %(run)s AND role = 'CURRENT'
), legs AS (
    SELECT c.id AS sid, l.csd_id, l.leg_id AS reference, sec.isin, l.quantity,
           l.debit_account_id, l.credit_account_id, d.settled_on
    FROM cur c
    JOIN settlement_leg l ON l.csd_id = c.csd_id AND l.status = 'COMMITTED'
    JOIN settlement_transfer t ON t.id = l.transfer_id AND t.status = 'SETTLED'
    JOIN registry_security sec ON sec.id = l.security_id
    JOIN registry_csd csd ON csd.id = l.csd_id
    -- the date the CSD gave when it booked the leg; a leg recorded without one, by its transfer's settlement
    CROSS JOIN LATERAL (
        SELECT coalesce(l.settlement_date, (t.settled_at AT TIME ZONE csd.timezone)::date) AS settled_on
    ) d
    WHERE d.settled_on BETWEEN c.movements_since AND c.movements_until
      -- settled once the statements were asked for: the CSD may not have it on them yet
      AND t.settled_at <= c.pulled_at
), sides AS (
    SELECT sid, csd_id, reference, isin, debit_account_id AS account_id, -quantity AS q, settled_on FROM legs
    UNION ALL
    SELECT sid, csd_id, reference, isin, credit_account_id, quantity, settled_on FROM legs
), seen AS (
    SELECT c.id AS sid, c.csd_id, m.account_id, m.reference, min(m.kind) AS kind,
           min(m.isin) AS isin, max(m.isin) AS isin_max, sum(m.quantity) AS q,
           min(m.settlement_date) AS day, max(m.settlement_date) AS day_max
    FROM cur c JOIN reconciliation_movement m ON m.statement_id = c.id
    GROUP BY c.id, c.csd_id, m.account_id, m.reference
)
SELECT CASE WHEN s.sid IS NULL THEN 'MV_UNKN' WHEN m.sid IS NULL THEN 'MV_MISS' ELSE 'MV_DIFF' END,
       coalesce(s.csd_id, m.csd_id), coalesce(s.isin, m.isin), acc.number, coalesce(s.reference, m.reference),
       coalesce(s.q, 0), coalesce(m.q, 0),
       CASE WHEN s.sid IS NULL THEN 'a cross-CSD movement the hub did not settle'
            WHEN m.sid IS NULL THEN 'settled by the hub on ' || s.settled_on || ', not on the statement'
            ELSE 'hub: ' || s.isin || ' on ' || s.settled_on || '; CSD: ' || m.isin || ' on ' || m.day END,
       cur.movements_since, cur.movements_until
FROM sides s
FULL JOIN seen m ON m.sid = s.sid AND m.account_id = s.account_id AND m.reference = s.reference
JOIN registry_securitiesaccount acc ON acc.id = coalesce(s.account_id, m.account_id)
JOIN cur ON cur.id = coalesce(s.sid, m.sid)
WHERE NOT EXISTS (
          SELECT 1 FROM reconciliation_gap g
          WHERE g.statement_id = coalesce(s.sid, m.sid) AND g.account_id = acc.id AND g.what = 'transactions'
      )
  AND (
      m.sid IS NULL
      OR (s.sid IS NOT NULL AND (s.q <> m.q OR s.isin <> m.isin OR s.isin <> m.isin_max
                                 OR s.settled_on <> m.day OR s.settled_on <> m.day_max))
      OR (s.sid IS NULL AND m.kind IN ('OMNIBUS', 'MIRROR') AND NOT EXISTS (
              SELECT 1 FROM settlement_leg l
              WHERE l.leg_id = m.reference AND l.csd_id = m.csd_id AND l.status = 'COMMITTED'))
  )
"""

LEDGER_RECORDS = """
INSERT INTO recon_found (kind, isin, reference, expected, actual, detail)
WITH settled AS (
    SELECT t.id, t.quantity, t.commit_entry_id, sec.isin
    FROM settlement_transfer t JOIN registry_security sec ON sec.id = t.security_id
    WHERE t.status = 'SETTLED'
), rec AS (
    SELECT s.id, s.quantity, s.isin, e.id AS entry_id, e.record_hash,
           encode(sha256(convert_to(e.record, 'UTF8')), 'hex') AS computed,
           reconciliation_jsonb(e.record) AS r
    FROM settled s
    LEFT JOIN ledger_entry e ON e.id = s.commit_entry_id AND e.kind = 'COMMIT' AND e.reference = 'transfer:' || s.id
), rows AS (
    SELECT l.transfer_id, l.leg_id::text AS leg, c.code::text AS csd, da.number::text AS debit,
           ca.number::text AS credit, l.quantity
    FROM settlement_leg l
    JOIN settled s ON s.id = l.transfer_id
    JOIN registry_csd c ON c.id = l.csd_id
    JOIN registry_securitiesaccount da ON da.id = l.debit_account_id
    JOIN registry_securitiesaccount ca ON ca.id = l.credit_account_id
), recorded AS (
    SELECT rec.id AS transfer_id, x.leg, x.csd, x.debit, x.credit, reconciliation_numeric(x.quantity) AS quantity
    FROM rec, jsonb_to_recordset(
        CASE WHEN jsonb_typeof(rec.r -> 'legs') = 'array' THEN rec.r -> 'legs' ELSE '[]'::jsonb END
    ) AS x(leg text, csd text, debit text, credit text, quantity text)
), legs_differ AS (
    SELECT transfer_id FROM (
        (SELECT * FROM rows EXCEPT SELECT * FROM recorded)
        UNION ALL
        (SELECT * FROM recorded EXCEPT SELECT * FROM rows)
    ) d GROUP BY transfer_id
)
SELECT 'LG_REC', rec.isin, 'transfer:' || rec.id, rec.quantity, reconciliation_numeric(rec.r ->> 'quantity'),
       CASE WHEN rec.entry_id IS NULL THEN 'no COMMIT entry for this settled transfer'
            WHEN rec.computed <> rec.record_hash THEN 'entry ' || rec.entry_id || ': record does not hash to its hash'
            ELSE 'entry ' || rec.entry_id || ': record differs from the transfer or its legs' END
FROM rec
WHERE rec.entry_id IS NULL
   OR rec.r IS NULL
   OR rec.computed <> rec.record_hash
   OR rec.r ->> 'transfer' IS DISTINCT FROM rec.id::text
   OR rec.r ->> 'isin' IS DISTINCT FROM rec.isin
   OR reconciliation_numeric(rec.r ->> 'quantity') IS DISTINCT FROM rec.quantity
   OR rec.id IN (SELECT transfer_id FROM legs_differ)
"""


# Invariant 4 the other way round: what the ledger or a CSD says happened, against the transfer's status.
# A transfer past its COMMIT entry only goes forward; a PREPARED or COMMITTING one whose entry was
# appended after ``grace_until`` (the wall clock less RECONCILIATION_COMMIT_GRACE_SECONDS) is still on its
# way, and is left alone. Anything else that is not SETTLED, FAILED after its anchor say, is a break: the
# COMMIT entry (LG_OPEN) and each leg already committed at its CSD (LEG_OPEN). A SETTLED transfer without
# its SETTLED entry is LG_NOSTL.
LEDGER_OUTCOMES = """
INSERT INTO recon_found (kind, csd_id, isin, reference, expected, actual, detail)
WITH decided AS (
    SELECT e.id AS entry_id, e.reference, t.id AS transfer_id, coalesce(t.status, '') AS status, sec.isin,
           t.quantity
    FROM ledger_entry e
    LEFT JOIN settlement_transfer t ON e.reference = 'transfer:' || t.id
    LEFT JOIN registry_security sec ON sec.id = t.security_id
    WHERE e.kind = 'COMMIT'
      AND NOT (coalesce(t.status, '') IN ('PREPARED', 'COMMITTING') AND e.appended_at > %(grace_until)s)
), legs AS (
    SELECT l.csd_id, sec.isin, l.leg_id, l.quantity, t.status
    FROM settlement_leg l
    JOIN settlement_transfer t ON t.id = l.transfer_id
    JOIN registry_security sec ON sec.id = l.security_id
    LEFT JOIN ledger_entry e ON e.id = t.commit_entry_id AND e.kind = 'COMMIT'
    WHERE l.status = 'COMMITTED' AND t.status <> 'SETTLED'
      AND NOT (t.status IN ('PREPARED', 'COMMITTING')
               AND coalesce(e.appended_at, '-infinity'::timestamptz) > %(grace_until)s)
)
SELECT 'LG_OPEN', NULL::bigint, coalesce(d.isin, ''), d.reference, d.quantity, NULL::numeric,
       CASE WHEN d.transfer_id IS NULL THEN 'COMMIT entry ' || d.entry_id || ': the hub has no such transfer'
            ELSE 'COMMIT entry ' || d.entry_id || ' on the ledger; the transfer is ' || d.status END
FROM decided d WHERE d.status <> 'SETTLED'
UNION ALL
SELECT 'LG_NOSTL', NULL::bigint, sec.isin, 'transfer:' || t.id, NULL::numeric, NULL::numeric,
       'settled at ' || to_char(t.settled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC; no SETTLED entry'
FROM settlement_transfer t JOIN registry_security sec ON sec.id = t.security_id
WHERE t.status = 'SETTLED'
  AND NOT EXISTS (SELECT 1 FROM ledger_entry e WHERE e.kind = 'SETTLED' AND e.reference = 'transfer:' || t.id)
UNION ALL
SELECT 'LEG_OPEN', legs.csd_id, legs.isin, legs.leg_id, 0, legs.quantity,
       'committed at its CSD; its transfer is ' || legs.status
FROM legs
"""


def found_create() -> None:
    with connection.cursor() as cursor:
        # dropped at commit; dropped here too for a caller whose outer transaction has not ended yet
        cursor.execute("DROP TABLE IF EXISTS pg_temp.recon_found")
        cursor.execute(CREATE_FOUND)


def per_csd_checks_run(*, run_id: int) -> None:
    """Checks 1 and 4 for the CSDs whose statements the run pulled."""
    with connection.cursor() as cursor:
        cursor.execute(BALANCE, {"run": run_id})
        cursor.execute(MOVEMENTS, {"run": run_id})


def cross_checks_run(*, run_id: int, fresh_since: dt.datetime, grace_until: dt.datetime) -> None:
    """Checks 2, 3 and 5 across every CSD's recent statement, the hub's transfers and the ledger."""
    params = {"run": run_id, "fresh_since": fresh_since}
    with connection.cursor() as cursor:
        cursor.execute(OMNIBUS, params)
        cursor.execute(ISSUED, params)
        cursor.execute(LEDGER_RECORDS)
        cursor.execute(LEDGER_OUTCOMES, {"grace_until": grace_until})
        problems: dict[str, list[str]] = {}
        # pinned to the hub's own key: a chain rebuilt from its first block with another key is
        # self-consistent, and only the key it ends with tells it apart
        try:
            hub_key_id = configured_hub_key_id()
        except LedgerError as exc:  # the chain is checked all the same, its key in force left unpinned
            hub_key_id = None
            problems["hub key"] = [f"{exc}; the chain's hub key in force was not checked against it"]
        for finding in chain_verify(hub_key_id=hub_key_id).findings:
            problems.setdefault(finding.where[:100], []).append(finding.problem)
        cursor.executemany(
            "INSERT INTO recon_found (kind, reference, detail) VALUES ('LG_CHAIN', %s, %s)",
            [(where, "; ".join(found)[:300]) for where, found in problems.items()],
        )


UNKNOWN_TOTALS = f"""
WITH {LATEST}, {INCOMPLETE}
SELECT c.code, l.id IS NULL,
       (SELECT string_agg(a.number, ', ' ORDER BY a.number) FROM reconciliation_gap g
        JOIN registry_securitiesaccount a ON a.id = g.account_id
        WHERE g.statement_id = l.id AND a.kind IN {PARTICIPANT} AND g.what <> 'baseline')
FROM incomplete i JOIN registry_csd c ON c.id = i.csd_id LEFT JOIN latest l ON l.csd_id = i.csd_id
ORDER BY c.code
"""  # noqa: S608 - only this module's constants are interpolated

LINKS_UNCHECKED = f"""
WITH {LATEST}, {INCOMPLETE}
SELECT acc.number, inv.code, iss.code, si.id IS NULL, inv.id IN (SELECT csd_id FROM incomplete)
FROM registry_csdlink k
JOIN registry_securitiesaccount acc ON acc.link_id = k.id AND acc.kind = 'OMNIBUS'
JOIN registry_csd inv ON inv.id = k.investor_csd_id
JOIN registry_csd iss ON iss.id = k.issuer_csd_id
LEFT JOIN latest si ON si.csd_id = k.issuer_csd_id
WHERE k.is_active AND acc.id NOT IN (SELECT account_id FROM omnibus_checked)
ORDER BY iss.code, inv.code, acc.number
"""  # noqa: S608 - only this module's constants are interpolated

ISINS_UNCHECKED = f"""
WITH {LATEST}, {INCOMPLETE}
SELECT iss.code, string_agg(sec.isin, ', ' ORDER BY sec.isin),
       (SELECT string_agg(c.code, ', ' ORDER BY c.code) FROM registry_csd c
        WHERE c.id IN (SELECT csd_id FROM incomplete)
          AND (c.id = iss.id OR c.id IN (SELECT investor_csd_id FROM registry_csdlink WHERE issuer_csd_id = iss.id)))
FROM registry_security sec JOIN registry_csd iss ON iss.id = sec.issuer_csd_id
WHERE sec.isin NOT IN (SELECT isin FROM issued_checked)
GROUP BY iss.id, iss.code ORDER BY iss.code
"""  # noqa: S608 - only this module's constants are interpolated


def cross_unchecked(*, run_id: int, fresh_since: dt.datetime) -> list[str]:
    """What checks 2 and 3 left out, and why, as lines for the run's notes (empty: both made in full)."""
    params = {"run": run_id, "fresh_since": fresh_since}
    notes = []
    with connection.cursor() as cursor:
        cursor.execute(UNKNOWN_TOTALS, params)
        for code, no_statement, gaps in cursor.fetchall():
            why = (
                f"no statement of its current day pulled since {fresh_since:%Y-%m-%d %H:%M} UTC"
                if no_statement
                else f"no statement of its participant account(s) {gaps}"
            )
            notes.append(f"{code}: participants' total unknown ({why})")
        cursor.execute(LINKS_UNCHECKED, params)
        for account, investor, issuer, no_statement, unknown in cursor.fetchall():
            if no_statement:
                why = f"no recent statement of {issuer}"
            elif unknown:
                why = f"{investor}'s participants' total unknown"
            else:
                why = f"no statement of the omnibus account from {issuer}"
            notes.append(f"check 2 not made for {investor}'s omnibus account {account} at {issuer}: {why}")
        cursor.execute(ISINS_UNCHECKED, params)
        for issuer, isins, unknown in cursor.fetchall():
            notes.append(
                f"check 3 not made for the ISINs issued at {issuer} ({isins}): participants' total "
                f"unknown at {unknown}"
            )
    return notes
