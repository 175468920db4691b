"""SQL functions that let CHECK constraints apply the same rules as the model validators.

PostgreSQL gets them as SQL functions created by a migration; SQLite gets them as deterministic
Python functions registered on every new connection. Both share one name per rule.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, connections
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import BooleanField, Func

from hub.registry.validators import iana_timezones, isin_is_valid, timezone_is_valid

ISIN_FUNCTION = "hub_isin_is_valid"
TIMEZONE_FUNCTION = "hub_timezone_is_valid"


class IsinIsValid(Func):
    function = ISIN_FUNCTION
    output_field = BooleanField()


class TimezoneIsValid(Func):
    function = TIMEZONE_FUNCTION
    output_field = BooleanField()


def register_sqlite_functions(sender, connection, **_kwargs) -> None:
    if connection.vendor != "sqlite":
        return
    raw = connection.connection
    raw.create_function(ISIN_FUNCTION, 1, isin_is_valid, deterministic=True)
    raw.create_function(TIMEZONE_FUNCTION, 1, timezone_is_valid, deterministic=True)


@dataclass(frozen=True)
class Triggers:
    """A set of triggers written for both databases; ``create`` and ``drop`` are a migration's
    ``RunPython`` pair. ``postgres_drop`` runs before ``postgres`` too, so that creating is idempotent."""

    postgres: str
    postgres_drop: str
    sqlite: tuple[str, ...]
    sqlite_names: tuple[str, ...]

    def create(self, apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(self.postgres_drop)
            schema_editor.execute(self.postgres)
        elif schema_editor.connection.vendor == "sqlite":
            for statement in self.sqlite:
                schema_editor.execute(statement)

    def drop(self, apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(self.postgres_drop)
        elif schema_editor.connection.vendor == "sqlite":
            for name in self.sqlite_names:
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


# ISO 6166: letters become two digits (A=10 ... Z=35), then the Luhn check over the digit string,
# counted from the right, must come out to a multiple of ten. Migration 0001 creates this function, which
# takes any two letters as the country prefix; migration 0010 replaces it with one that takes only the
# prefixes python-stdnum knows, as the validator does, and goes back to this one when it is reversed.
# fixed DDL; the only interpolations are this module's constant function names
POSTGRES_ISIN_ANY_LETTERS = f"""
CREATE OR REPLACE FUNCTION {ISIN_FUNCTION}(isin text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    digits text := '';
    ch text;
    d int;
    total int := 0;
    i int;
    n int;
BEGIN
    IF isin !~ '^[A-Z]{{2}}[A-Z0-9]{{9}}[0-9]$' THEN
        RETURN false;
    END IF;
    FOR i IN 1..12 LOOP
        ch := substr(isin, i, 1);
        IF ch ~ '[0-9]' THEN
            digits := digits || ch;
        ELSE
            digits := digits || (ascii(ch) - 55)::text;
        END IF;
    END LOOP;
    n := length(digits);
    FOR i IN 0..n - 1 LOOP
        d := substr(digits, n - i, 1)::int;
        IF mod(i, 2) = 1 THEN
            d := d * 2;
            IF d > 9 THEN d := d - 9; END IF;
        END IF;
        total := total + d;
    END LOOP;
    RETURN mod(total, 10) = 0;
END;
$$;
"""

# the time zone function as migration 0001 creates it (migration 0007 replaces it)
_POSTGRES_TIMEZONE_INITIAL = f"""
CREATE OR REPLACE FUNCTION {TIMEZONE_FUNCTION}(tz text) RETURNS boolean
LANGUAGE sql STABLE STRICT AS $$
    SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = tz);
$$;
"""  # noqa: S608

POSTGRES_CREATE = POSTGRES_ISIN_ANY_LETTERS + _POSTGRES_TIMEZONE_INITIAL

POSTGRES_DROP = (
    f"DROP FUNCTION IF EXISTS {ISIN_FUNCTION}(text); DROP FUNCTION IF EXISTS {TIMEZONE_FUNCTION}(text);"
)


def create_postgres_functions(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_CREATE)


def drop_postgres_functions(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP)


# --- Rules that span two tables, as triggers -------------------------------------------------------------
# A migration that alters registry tables on SQLite (which rebuilds the table) must drop these triggers
# first and recreate them after: see migration 0003 (and, for the owners' triggers below, migrations 0005 and
# 0008, for the active links' accounts, 0009, and for the links' activation, 0011).
# An account's side of a link (omnibus at the issuer, mirror at the investor), an own or client account at
# its participant's home CSD, and a negative position only in a contra account (issuance or mirror).

_ACCOUNT_RULES_SQLITE = """
    SELECT RAISE(ABORT, 'omnibus account must be kept at the issuer CSD of its link')
     WHERE NEW.kind = 'OMNIBUS' AND NEW.link_id IS NOT NULL
       AND NEW.csd_id IS NOT (SELECT issuer_csd_id FROM registry_csdlink WHERE id = NEW.link_id);
    SELECT RAISE(ABORT, 'mirror account must be kept at the investor CSD of its link')
     WHERE NEW.kind = 'MIRROR' AND NEW.link_id IS NOT NULL
       AND NEW.csd_id IS NOT (SELECT investor_csd_id FROM registry_csdlink WHERE id = NEW.link_id);
    SELECT RAISE(ABORT, 'participant account must be kept at the participant''s home CSD')
     WHERE NEW.participant_id IS NOT NULL
       AND NEW.csd_id IS NOT (SELECT home_csd_id FROM registry_participant WHERE id = NEW.participant_id);
"""
_HOLDING_RULES_SQLITE = """
    SELECT RAISE(ABORT, 'only issuance and mirror accounts may hold a negative position')
     WHERE NEW.quantity < 0
       AND (SELECT kind FROM registry_securitiesaccount WHERE id = NEW.account_id) NOT IN ('ISSUANCE', 'MIRROR');
"""

SQLITE_TRIGGERS = [
    f"CREATE TRIGGER registry_account_rules_{event.lower()} BEFORE {event} ON registry_securitiesaccount "
    f"BEGIN {_ACCOUNT_RULES_SQLITE} END;"
    for event in ("INSERT", "UPDATE")
] + [
    f"CREATE TRIGGER registry_holding_rules_{event.lower()} BEFORE {event} ON registry_holding "
    f"BEGIN {_HOLDING_RULES_SQLITE} END;"
    for event in ("INSERT", "UPDATE")
]

POSTGRES_TRIGGERS = """
CREATE OR REPLACE FUNCTION registry_account_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- an omnibus or mirror account without a link is the CHECK constraint's to refuse
    IF NEW.kind = 'OMNIBUS' AND NEW.link_id IS NOT NULL AND NEW.csd_id IS DISTINCT FROM
            (SELECT issuer_csd_id FROM registry_csdlink WHERE id = NEW.link_id) THEN
        RAISE EXCEPTION 'omnibus account must be kept at the issuer CSD of its link' USING ERRCODE = '23514';
    END IF;
    IF NEW.kind = 'MIRROR' AND NEW.link_id IS NOT NULL AND NEW.csd_id IS DISTINCT FROM
            (SELECT investor_csd_id FROM registry_csdlink WHERE id = NEW.link_id) THEN
        RAISE EXCEPTION 'mirror account must be kept at the investor CSD of its link' USING ERRCODE = '23514';
    END IF;
    IF NEW.participant_id IS NOT NULL AND NEW.csd_id IS DISTINCT FROM
            (SELECT home_csd_id FROM registry_participant WHERE id = NEW.participant_id) THEN
        RAISE EXCEPTION 'participant account must be kept at the participant''s home CSD' USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER registry_account_rules BEFORE INSERT OR UPDATE ON registry_securitiesaccount
    FOR EACH ROW EXECUTE FUNCTION registry_account_rules();

CREATE OR REPLACE FUNCTION registry_holding_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.quantity < 0 AND (SELECT kind FROM registry_securitiesaccount WHERE id = NEW.account_id)
            NOT IN ('ISSUANCE', 'MIRROR') THEN
        RAISE EXCEPTION 'only issuance and mirror accounts may hold a negative position' USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER registry_holding_rules BEFORE INSERT OR UPDATE ON registry_holding
    FOR EACH ROW EXECUTE FUNCTION registry_holding_rules();
"""

POSTGRES_TRIGGERS_DROP = """
DROP TRIGGER IF EXISTS registry_account_rules ON registry_securitiesaccount;
DROP TRIGGER IF EXISTS registry_holding_rules ON registry_holding;
DROP FUNCTION IF EXISTS registry_account_rules();
DROP FUNCTION IF EXISTS registry_holding_rules();
"""


CROSS_TABLE_TRIGGERS = Triggers(
    postgres=POSTGRES_TRIGGERS,
    postgres_drop=POSTGRES_TRIGGERS_DROP,
    sqlite=tuple(SQLITE_TRIGGERS),
    sqlite_names=tuple(
        f"registry_{rule}_{event}"
        for rule in ("account_rules", "holding_rules")
        for event in ("insert", "update")
    ),
)
create_triggers, drop_triggers = CROSS_TABLE_TRIGGERS.create, CROSS_TABLE_TRIGGERS.drop


# --- The same rules from the owners' side (migration 0005) ----------------------------------------------
# An account's place follows from its participant's home CSD and its link's CSDs: a participant that has
# accounts cannot move to another home CSD, nor a link that has accounts change its CSDs, or the accounts
# would sit at the wrong CSD with no row of theirs written.

SQLITE_OWNER_TRIGGERS = [
    """CREATE TRIGGER registry_participant_home_rules BEFORE UPDATE OF home_csd_id ON registry_participant
    BEGIN
    SELECT RAISE(ABORT, 'participant has accounts at a CSD other than its home CSD: it cannot move')
     WHERE EXISTS (SELECT 1 FROM registry_securitiesaccount
                    WHERE participant_id = NEW.id AND csd_id IS NOT NEW.home_csd_id);
    END;""",
    """CREATE TRIGGER registry_csdlink_side_rules
    BEFORE UPDATE OF issuer_csd_id, investor_csd_id ON registry_csdlink
    BEGIN
    SELECT RAISE(ABORT, 'link has accounts at its CSDs (omnibus at the issuer, mirror at the investor): they cannot change')
     WHERE EXISTS (SELECT 1 FROM registry_securitiesaccount
                    WHERE link_id = NEW.id
                      AND ((kind = 'OMNIBUS' AND csd_id IS NOT NEW.issuer_csd_id)
                           OR (kind = 'MIRROR' AND csd_id IS NOT NEW.investor_csd_id)));
    END;""",
]

POSTGRES_OWNER_TRIGGERS = """
CREATE OR REPLACE FUNCTION registry_participant_home_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM registry_securitiesaccount
                WHERE participant_id = NEW.id AND csd_id IS DISTINCT FROM NEW.home_csd_id) THEN
        RAISE EXCEPTION 'participant has accounts at a CSD other than its home CSD: it cannot move' USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER registry_participant_home_rules BEFORE UPDATE OF home_csd_id ON registry_participant
    FOR EACH ROW EXECUTE FUNCTION registry_participant_home_rules();

CREATE OR REPLACE FUNCTION registry_csdlink_side_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM registry_securitiesaccount
                WHERE link_id = NEW.id
                  AND ((kind = 'OMNIBUS' AND csd_id IS DISTINCT FROM NEW.issuer_csd_id)
                       OR (kind = 'MIRROR' AND csd_id IS DISTINCT FROM NEW.investor_csd_id))) THEN
        RAISE EXCEPTION 'link has accounts at its CSDs (omnibus at the issuer, mirror at the investor): they cannot change'
            USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER registry_csdlink_side_rules BEFORE UPDATE OF issuer_csd_id, investor_csd_id ON registry_csdlink
    FOR EACH ROW EXECUTE FUNCTION registry_csdlink_side_rules();
"""

POSTGRES_OWNER_TRIGGERS_DROP = """
DROP TRIGGER IF EXISTS registry_participant_home_rules ON registry_participant;
DROP TRIGGER IF EXISTS registry_csdlink_side_rules ON registry_csdlink;
DROP FUNCTION IF EXISTS registry_participant_home_rules();
DROP FUNCTION IF EXISTS registry_csdlink_side_rules();
"""


OWNER_TRIGGERS = Triggers(
    postgres=POSTGRES_OWNER_TRIGGERS,
    postgres_drop=POSTGRES_OWNER_TRIGGERS_DROP,
    sqlite=tuple(SQLITE_OWNER_TRIGGERS),
    sqlite_names=("registry_participant_home_rules", "registry_csdlink_side_rules"),
)
create_owner_triggers, drop_owner_triggers = OWNER_TRIGGERS.create, OWNER_TRIGGERS.drop


# --- The time zone rule without the machine's own zone and placeholders (migration 0007) -----------------
# pg_timezone_names lists 'localtime', 'posixrules', 'Factory' and the posix/ and right/ copies of every
# zone too; the validator's list (zoneinfo) has none of them but the first three.

POSTGRES_TIMEZONE_PLACES_ONLY = f"""
CREATE OR REPLACE FUNCTION {TIMEZONE_FUNCTION}(tz text) RETURNS boolean
LANGUAGE sql STABLE STRICT AS $$
    SELECT tz NOT IN ('localtime', 'posixrules', 'Factory') AND tz !~ '^(posix|right)/'
       AND EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = tz);
$$;
"""  # noqa: S608 - fixed DDL; the only interpolation is this module's constant function name

POSTGRES_TIMEZONE_ANY_NAME = f"""
CREATE OR REPLACE FUNCTION {TIMEZONE_FUNCTION}(tz text) RETURNS boolean
LANGUAGE sql STABLE STRICT AS $$
    SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = tz);
$$;
"""  # noqa: S608 - as above


# --- The time zone rule as the validator's own list (migration 0014) ---------------------------------------
# pg_timezone_names reads the server's whole time zone directory on every call: some 35 ms for each write of
# a CSD row and each CHECK that Django's validation runs, which was most of what seeding the demo CSDs
# cost. The function now holds the validator's names (zoneinfo's, less NOT_A_PLACE) as a constant array,
# looked up in microseconds, and the two databases refuse the same names: SQLite calls the validator
# itself. The list is written again after every ``migrate`` (``timezone_function_refresh``), so a newer
# tzdata's zones are taken as soon as the validator takes them.

_ZONE_NAME = re.compile(r"[A-Za-z0-9_/+-]+")
TIMEZONE_LISTED_MIGRATION = "0014_timezone_listed"


def postgres_timezone_function(names: Iterable[str]) -> str:
    """The CREATE statement of the time zone rule's function for ``names``."""
    names = sorted(names)
    odd = [name for name in names if not _ZONE_NAME.fullmatch(name)]
    if odd:  # nothing to quote in a zone name: one that would need it is no zone name
        raise ValueError(f"not a time zone name: {odd[0]!r}")
    listed = ",".join(names)
    return f"""
CREATE OR REPLACE FUNCTION {TIMEZONE_FUNCTION}(tz text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT tz = ANY ('{{{listed}}}'::text[]);
$$;
"""  # noqa: S608 - fixed DDL: the function's constant name and zone names of letters, digits and _/+-


def timezone_function_listed(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(postgres_timezone_function(iana_timezones()))


def timezone_function_refresh(sender, using: str = "default", **_kwargs) -> None:
    """After ``migrate``: the function's list made the validator's again, where migration 0014 has put
    the listed function in place (a database migrated back before it keeps what its migrations left)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    if ("registry", TIMEZONE_LISTED_MIGRATION) not in MigrationRecorder(connection).applied_migrations():
        return
    with connection.cursor() as cursor:
        cursor.execute(postgres_timezone_function(iana_timezones()))


def timezone_function_places_only(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_TIMEZONE_PLACES_ONLY)


def timezone_function_any_name(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_TIMEZONE_ANY_NAME)


# --- A security with positions keeps its issuer CSD (migration 0008) ------------------------------------

SQLITE_SECURITY_TRIGGER = """CREATE TRIGGER registry_security_issuer_rules
    BEFORE UPDATE OF issuer_csd_id ON registry_security
    WHEN NEW.issuer_csd_id IS NOT OLD.issuer_csd_id
    BEGIN
    SELECT RAISE(ABORT, 'security has positions booked through its issuer CSD: it cannot move')
     WHERE EXISTS (SELECT 1 FROM registry_holding WHERE security_id = NEW.id);
    END;"""

POSTGRES_SECURITY_TRIGGER = """
CREATE OR REPLACE FUNCTION registry_security_issuer_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.issuer_csd_id IS DISTINCT FROM OLD.issuer_csd_id
            AND EXISTS (SELECT 1 FROM registry_holding WHERE security_id = NEW.id) THEN
        RAISE EXCEPTION 'security has positions booked through its issuer CSD: it cannot move'
            USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER registry_security_issuer_rules BEFORE UPDATE OF issuer_csd_id ON registry_security
    FOR EACH ROW EXECUTE FUNCTION registry_security_issuer_rules();
"""

POSTGRES_SECURITY_TRIGGER_DROP = """
DROP TRIGGER IF EXISTS registry_security_issuer_rules ON registry_security;
DROP FUNCTION IF EXISTS registry_security_issuer_rules();
"""


SECURITY_TRIGGER = Triggers(
    postgres=POSTGRES_SECURITY_TRIGGER,
    postgres_drop=POSTGRES_SECURITY_TRIGGER_DROP,
    sqlite=(SQLITE_SECURITY_TRIGGER,),
    sqlite_names=("registry_security_issuer_rules",),
)
create_security_trigger, drop_security_trigger = SECURITY_TRIGGER.create, SECURITY_TRIGGER.drop


# --- An active link keeps its omnibus and mirror accounts (migration 0009) -------------------------------
# Every transfer through an active link plans its legs on them (hub/settlement/legs.py), and invariant 3
# compares the investor CSD's participants with its omnibus at the issuer: while the link is active they
# are neither deleted nor moved (their CSD, number, kind or link). Deactivating the link first frees them.

SQLITE_LINK_ACCOUNT_TRIGGERS = (
    """CREATE TRIGGER registry_link_account_rules_delete BEFORE DELETE ON registry_securitiesaccount
    WHEN OLD.link_id IS NOT NULL
    BEGIN
    SELECT RAISE(ABORT, 'an active CSD link keeps its omnibus and mirror accounts: deactivate it to delete or move them')
     WHERE EXISTS (SELECT 1 FROM registry_csdlink WHERE id = OLD.link_id AND is_active);
    END;""",
    """CREATE TRIGGER registry_link_account_rules_update
    BEFORE UPDATE OF csd_id, number, kind, link_id ON registry_securitiesaccount
    WHEN OLD.link_id IS NOT NULL
     AND (NEW.csd_id IS NOT OLD.csd_id OR NEW.number IS NOT OLD.number OR NEW.kind IS NOT OLD.kind
          OR NEW.link_id IS NOT OLD.link_id)
    BEGIN
    SELECT RAISE(ABORT, 'an active CSD link keeps its omnibus and mirror accounts: deactivate it to delete or move them')
     WHERE EXISTS (SELECT 1 FROM registry_csdlink WHERE id = OLD.link_id AND is_active);
    END;""",
)

# one function for both triggers; their WHEN clauses keep every other account's writes out of PL/pgSQL
POSTGRES_LINK_ACCOUNT_TRIGGERS = """
CREATE OR REPLACE FUNCTION registry_link_account_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM registry_csdlink WHERE id = OLD.link_id AND is_active) THEN
        RAISE EXCEPTION 'an active CSD link keeps its omnibus and mirror accounts: deactivate it to delete or move them'
            USING ERRCODE = '23514';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER registry_link_account_rules_delete BEFORE DELETE ON registry_securitiesaccount
    FOR EACH ROW WHEN (OLD.link_id IS NOT NULL) EXECUTE FUNCTION registry_link_account_rules();
CREATE TRIGGER registry_link_account_rules_update
    BEFORE UPDATE OF csd_id, number, kind, link_id ON registry_securitiesaccount
    FOR EACH ROW WHEN (OLD.link_id IS NOT NULL
        AND (NEW.csd_id IS DISTINCT FROM OLD.csd_id OR NEW.number IS DISTINCT FROM OLD.number
             OR NEW.kind IS DISTINCT FROM OLD.kind OR NEW.link_id IS DISTINCT FROM OLD.link_id))
    EXECUTE FUNCTION registry_link_account_rules();
"""

POSTGRES_LINK_ACCOUNT_TRIGGERS_DROP = """
DROP TRIGGER IF EXISTS registry_link_account_rules_delete ON registry_securitiesaccount;
DROP TRIGGER IF EXISTS registry_link_account_rules_update ON registry_securitiesaccount;
DROP FUNCTION IF EXISTS registry_link_account_rules();
"""


LINK_ACCOUNT_TRIGGERS = Triggers(
    postgres=POSTGRES_LINK_ACCOUNT_TRIGGERS,
    postgres_drop=POSTGRES_LINK_ACCOUNT_TRIGGERS_DROP,
    sqlite=SQLITE_LINK_ACCOUNT_TRIGGERS,
    sqlite_names=("registry_link_account_rules_delete", "registry_link_account_rules_update"),
)
create_link_account_triggers, drop_link_account_triggers = (
    LINK_ACCOUNT_TRIGGERS.create,
    LINK_ACCOUNT_TRIGGERS.drop,
)


# --- A link is active only with its omnibus and mirror accounts (migration 0011) ------------------------
# Intake accepts instructions across an active link, and every transfer through it posts to the link's
# omnibus account (at the issuer CSD) and mirror account (at the investor CSD): an active link without them
# let every such instruction be accepted and matched, then fail. Where the accounts are kept is 0002's and
# 0005's rule; that they stay while the link is active is 0009's; this is the moment of activation.
#
# A link is written before its accounts, which reference it. On PostgreSQL the check is a constraint
# trigger deferred to commit, so a link may be inserted active and given its accounts in one transaction.
# SQLite has no deferred triggers: it checks at once, so there a link is inserted inactive and activated
# once its accounts exist (what ``csd_link_activate``, the demo seed and the admin do on both databases).
# SQLite's RAISE takes a fixed message, so its refusal names the missing account but not the link: the
# statement that was refused does.

LINK_ACTIVE_RULE = (
    "save the link inactive, add its omnibus account at the issuer CSD and its mirror account at the "
    "investor CSD, then activate it"
)

_SQLITE_LINK_ACTIVE_RULES = f"""
    SELECT RAISE(ABORT, 'a CSD link is active only with its omnibus account: {LINK_ACTIVE_RULE}')
     WHERE NOT EXISTS (SELECT 1 FROM registry_securitiesaccount WHERE link_id = NEW.id AND kind = 'OMNIBUS');
    SELECT RAISE(ABORT, 'a CSD link is active only with its mirror account: {LINK_ACTIVE_RULE}')
     WHERE NOT EXISTS (SELECT 1 FROM registry_securitiesaccount WHERE link_id = NEW.id AND kind = 'MIRROR');
"""  # noqa: S608 - fixed DDL; the only interpolation is this module's constant message

SQLITE_LINK_ACTIVE_TRIGGERS = (
    # AFTER INSERT: in a BEFORE INSERT trigger the new row has no id yet
    f"""CREATE TRIGGER registry_csdlink_active_rules_insert AFTER INSERT ON registry_csdlink
    WHEN NEW.is_active
    BEGIN {_SQLITE_LINK_ACTIVE_RULES} END;""",
    f"""CREATE TRIGGER registry_csdlink_active_rules_update AFTER UPDATE OF is_active ON registry_csdlink
    WHEN NEW.is_active AND NOT OLD.is_active
    BEGIN {_SQLITE_LINK_ACTIVE_RULES} END;""",
)

# The function reads the link again when it runs (at commit): by then the transaction may have given it
# its accounts, deactivated it or deleted it. One already active is not checked again when it is written:
# 0009 keeps its accounts, and a write that does not activate it is not this rule's business.
POSTGRES_LINK_ACTIVE_TRIGGERS = f"""
CREATE OR REPLACE FUNCTION registry_csdlink_active_rules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    -- no percent sign in this text: the migration runs it through the driver's parameter formatting
    issuer text;
    investor text;
    missing text[] := ARRAY[]::text[];
BEGIN
    SELECT i.code, v.code INTO issuer, investor
      FROM registry_csdlink k
      JOIN registry_csd i ON i.id = k.issuer_csd_id
      JOIN registry_csd v ON v.id = k.investor_csd_id
     WHERE k.id = NEW.id AND k.is_active;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM registry_securitiesaccount WHERE link_id = NEW.id AND kind = 'OMNIBUS') THEN
        missing := missing || ('omnibus account at ' || issuer);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM registry_securitiesaccount WHERE link_id = NEW.id AND kind = 'MIRROR') THEN
        missing := missing || ('mirror account at ' || investor);
    END IF;
    IF cardinality(missing) > 0 THEN
        RAISE EXCEPTION USING ERRCODE = '23514', MESSAGE = 'CSD link ''' || investor || ' holds through '
            || issuer || ''' is active without its ' || array_to_string(missing, ' and ') || ': {LINK_ACTIVE_RULE}';
    END IF;
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER registry_csdlink_active_rules_insert AFTER INSERT ON registry_csdlink
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.is_active) EXECUTE FUNCTION registry_csdlink_active_rules();
CREATE CONSTRAINT TRIGGER registry_csdlink_active_rules_update AFTER UPDATE OF is_active ON registry_csdlink
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.is_active AND NOT OLD.is_active) EXECUTE FUNCTION registry_csdlink_active_rules();
"""  # noqa: S608 - as above

POSTGRES_LINK_ACTIVE_TRIGGERS_DROP = """
DROP TRIGGER IF EXISTS registry_csdlink_active_rules_insert ON registry_csdlink;
DROP TRIGGER IF EXISTS registry_csdlink_active_rules_update ON registry_csdlink;
DROP FUNCTION IF EXISTS registry_csdlink_active_rules();
"""

# the links the triggers would have refused, written before them: the migration stops on them
ACTIVE_LINKS_WITHOUT_ACCOUNTS = """
SELECT v.code, i.code,
       NOT EXISTS (SELECT 1 FROM registry_securitiesaccount WHERE link_id = k.id AND kind = 'OMNIBUS'),
       NOT EXISTS (SELECT 1 FROM registry_securitiesaccount WHERE link_id = k.id AND kind = 'MIRROR')
  FROM registry_csdlink k
  JOIN registry_csd i ON i.id = k.issuer_csd_id
  JOIN registry_csd v ON v.id = k.investor_csd_id
 WHERE k.is_active
   AND (NOT EXISTS (SELECT 1 FROM registry_securitiesaccount WHERE link_id = k.id AND kind = 'OMNIBUS')
        OR NOT EXISTS (SELECT 1 FROM registry_securitiesaccount WHERE link_id = k.id AND kind = 'MIRROR'))
 ORDER BY v.code, i.code
"""


LINK_ACTIVE_TRIGGERS = Triggers(
    postgres=POSTGRES_LINK_ACTIVE_TRIGGERS,
    postgres_drop=POSTGRES_LINK_ACTIVE_TRIGGERS_DROP,
    sqlite=SQLITE_LINK_ACTIVE_TRIGGERS,
    sqlite_names=("registry_csdlink_active_rules_insert", "registry_csdlink_active_rules_update"),
)


def create_link_active_triggers(apps, schema_editor) -> None:
    """Refuses to start while an active link lacks its accounts, as adding a constraint over rows that break
    it does: the triggers check writes from now on, and would leave such a link as it is."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(ACTIVE_LINKS_WITHOUT_ACCOUNTS)
        broken = cursor.fetchall()
    if broken:
        names = "; ".join(
            f"'{investor} holds through {issuer}' lacks its "
            + " and ".join(
                part
                for part, is_missing in (
                    (f"omnibus account at {issuer}", no_omnibus),
                    (f"mirror account at {investor}", no_mirror),
                )
                if is_missing
            )
            for investor, issuer, no_omnibus, no_mirror in broken
        )
        raise IntegrityError(
            f"active CSD links without their accounts: {names}. Add the accounts or deactivate each link, "
            "then migrate again"
        )
    LINK_ACTIVE_TRIGGERS.create(apps, schema_editor)


drop_link_active_triggers = LINK_ACTIVE_TRIGGERS.drop
