# An ISIN's first two characters must be a prefix python-stdnum knows, on PostgreSQL as everywhere else.
# Migration 0001's function took any two letters, so a raw or bulk write could store an ISIN such as
# 'ZZ0378331001' (right check digit, no such country) that model validation, the SQLite check (stdnum
# itself, registered on connect) and every other part of the hub refuse. The function is replaced by one
# with the same shape and check-digit tests and stdnum's list of prefixes.
#
# The list is python-stdnum 2.2's (requirements.txt), written out here rather than read from stdnum when the
# migration runs: a migration must do the same thing whenever it runs. When an upgrade of stdnum changes the
# list, a test fails (tests/hub/registry/test_reference_data_validation.py) and a new migration replaces
# the function again; this one is never edited.
#
# A security row stored before with an unknown prefix is not checked again (PostgreSQL checks a CHECK
# constraint on the rows written, not when a function it calls changes): the next write to that row is
# refused, and the row needs correcting or removing.

from django.db import migrations

from hub.registry.dbfunctions import POSTGRES_ISIN_ANY_LETTERS

POSTGRES_ISIN_KNOWN_PREFIXES = """
CREATE OR REPLACE FUNCTION hub_isin_is_valid(isin text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    digits text := '';
    ch text;
    d int;
    total int := 0;
    i int;
    n int;
BEGIN
    IF isin !~ '^[A-Z]{2}[A-Z0-9]{9}[0-9]$' THEN
        RETURN false;
    END IF;
    -- python-stdnum 2.2's prefixes, sorted: ISO 3166-1 alpha-2 codes (some withdrawn, as AN and CS, that
    -- old ISINs still carry) and those ISIN agencies assign (EU, QS, QT, XA, XB, XC, XD, XF, XK, XS)
    IF substr(isin, 1, 2) <> ALL (ARRAY[
        'AD', 'AE', 'AF', 'AG', 'AI', 'AL', 'AM', 'AN', 'AO', 'AQ', 'AR', 'AS', 'AT', 'AU', 'AW', 'AX',
        'AZ', 'BA', 'BB', 'BD', 'BE', 'BF', 'BG', 'BH', 'BI', 'BJ', 'BL', 'BM', 'BN', 'BO', 'BQ', 'BR',
        'BS', 'BT', 'BV', 'BW', 'BY', 'BZ', 'CA', 'CC', 'CD', 'CF', 'CG', 'CH', 'CI', 'CK', 'CL', 'CM',
        'CN', 'CO', 'CR', 'CS', 'CU', 'CV', 'CW', 'CX', 'CY', 'CZ', 'DE', 'DJ', 'DK', 'DM', 'DO', 'DZ',
        'EC', 'EE', 'EG', 'EH', 'ER', 'ES', 'ET', 'EU', 'FI', 'FJ', 'FK', 'FM', 'FO', 'FR', 'GA', 'GB',
        'GD', 'GE', 'GF', 'GG', 'GH', 'GI', 'GL', 'GM', 'GN', 'GP', 'GQ', 'GR', 'GS', 'GT', 'GU', 'GW',
        'GY', 'HK', 'HM', 'HN', 'HR', 'HT', 'HU', 'ID', 'IE', 'IL', 'IM', 'IN', 'IO', 'IQ', 'IR', 'IS',
        'IT', 'JE', 'JM', 'JO', 'JP', 'KE', 'KG', 'KH', 'KI', 'KM', 'KN', 'KP', 'KR', 'KW', 'KY', 'KZ',
        'LA', 'LB', 'LC', 'LI', 'LK', 'LR', 'LS', 'LT', 'LU', 'LV', 'LY', 'MA', 'MC', 'MD', 'ME', 'MF',
        'MG', 'MH', 'MK', 'ML', 'MM', 'MN', 'MO', 'MP', 'MQ', 'MR', 'MS', 'MT', 'MU', 'MV', 'MW', 'MX',
        'MY', 'MZ', 'NA', 'NC', 'NE', 'NF', 'NG', 'NI', 'NL', 'NO', 'NP', 'NR', 'NU', 'NZ', 'OM', 'PA',
        'PE', 'PF', 'PG', 'PH', 'PK', 'PL', 'PM', 'PN', 'PR', 'PS', 'PT', 'PW', 'PY', 'QA', 'QS', 'QT',
        'RE', 'RO', 'RS', 'RU', 'RW', 'SA', 'SB', 'SC', 'SD', 'SE', 'SG', 'SH', 'SI', 'SJ', 'SK', 'SL',
        'SM', 'SN', 'SO', 'SR', 'SS', 'ST', 'SV', 'SX', 'SY', 'SZ', 'TC', 'TD', 'TF', 'TG', 'TH', 'TJ',
        'TK', 'TL', 'TM', 'TN', 'TO', 'TR', 'TT', 'TV', 'TW', 'TZ', 'UA', 'UG', 'UM', 'US', 'UY', 'UZ',
        'VA', 'VC', 'VE', 'VG', 'VI', 'VN', 'VU', 'WF', 'WS', 'XA', 'XB', 'XC', 'XD', 'XF', 'XK', 'XS',
        'YE', 'YT', 'ZA', 'ZM', 'ZW'
    ]) THEN
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


def isin_known_prefixes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_ISIN_KNOWN_PREFIXES)


def isin_any_letters(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_ISIN_ANY_LETTERS)


class Migration(migrations.Migration):
    dependencies = [("registry", "0009_link_accounts_guard")]

    operations = [migrations.RunPython(isin_known_prefixes, isin_any_letters)]
