"""ISO 20022 code lists the builders need, and how status codes map onto status elements.

The lists are facts copied from the 2022 message definitions (the enumerations of the official XSDs);
a builder refuses an ISO reason code outside its list (a proprietary code, with an issuer, is always
allowed), so every message the hub sends is valid against the official schema.
"""

from __future__ import annotations

from iso20022.models import MatchingStatusCode, ProcessingStatusCode, SettlementStatusCode


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


ACKNOWLEDGEMENT_5 = _codes("ADEA SMPG OTHR CDCY CDRG CDRE NSTP RQWV LATE")
ACKNOWLEDGEMENT_3 = _codes("ADEA SMPG OTHR")
PENDING_PROCESSING_4 = _codes(
    "ADEA CAIS DOCY NOFX BLOC MUNO GLOB YCOL COLL FLIM NEXT LACK LALO MONY MINO OTHR DENO LIQU CERT CSDH "
    "CVAL CDEL CDLR CDAC INBC PREA PRSY"
)
REJECTION_75 = _codes(
    "SAFE DQUA ADEA DSEC LATE CASH DDEA DTRD PLCE RTGS NCRR PHYS REFE DMON MINO BATC MUNO TXST SETS IIND "
    "CAEV CASY DDAT SETR SDUT INPS OTHR ICUS ICAG DEPT IEXE INVB INVL INVN VALR INVE PLIS"
)
REPAIR_4 = _codes(
    "BATC CAEV CASH CASY DDAT DDEA DMON DQUA DSEC DTRD IIND MINO MUNO NCRR PHYS PLCE REFE RTGS SAFE SETR "
    "SETS TXST INPS SDUT OTHR IEXE ICAG DEPT ICUS"
)
CANCELLED_16 = _codes("SCEX OTHR CXLR BYIY CTHP CANZ CANT CSUB CANS CANI CORP")
PENDING_6 = _codes("ADEA CONF OTHR CDRG CDCY CDRE")
UNMATCHED_11 = _codes(
    "ADEA ACRU IIND CPCA CLAT NCRR DDEA DMCT DCMX DSEC DQUA INVE LEOG LATE MIME CMIS NMAS DTRA OTHR FRAP "
    "PHYS PLIS INPS PLCE PODU DEPT ICAG ICUS IEXE REGD RTGS SAFE DMON DDAT SETS SETR TXST DTRD DELN UNBR"
)
_PENDING_COMMON = (
    "AWMO ADEA CAIS REFU AWSH PHSE TAMM DOCY DOCC BLOC CHAS NEWI CLAC MUNO GLOB PREA PART NMAS NOFX CMON "
    "YCOL COLL DEPO FLIM INCA LINK FUTU LACK LALO MONY NCON REFS SDUT BATC SBLO CPEC MINO IAAD OTHR PHCK "
    "BENO BOTH CLHT DENO DISA DKNY FROZ LAAW LATE LIQU PRCY REGT SETS CERT PRSY INBC"
)
PENDING_24 = _codes(_PENDING_COMMON + " CSDH CVAL CDLR PREL PATD")
PENDING_10 = _codes(_PENDING_COMMON + " CYCL")
_FAILING_COMMON = (
    "AWMO BYIY CLAT ADEA CANR CAIS OBJT AWSH PHSE STCD DOCY MLAT DOCC BLOC CHAS NEWI CLAC MUNO GLOB PREA "
    "PART NOFX CMON YCOL COLL DEPO FLIM INCA LINK LACK LALO MONY NCON REFS SDUT BATC CYCL SBLO CPEC MINO "
    "IAAD OTHR PHCK BENO BOTH CLHT DENO DISA DKNY FROZ LAAW LATE LIQU PRCY REGT SETS CERT PRSY INBC"
)
FAILING_4 = _codes(_FAILING_COMMON + " CDLR CSDH CVAL PREL PATD")
FAILING_3 = _codes(_FAILING_COMMON)
# sese.027 (cancellation status)
PENDING_9 = _codes("ADEA CONF OTHR CDRG CDCY CDRE CDAC INBC")
REJECTION_74 = _codes("SAFE ADEA LATE NRGN REFE NRGM OTHR")
REPAIR_71 = _codes("ADEA LATE SAFE NRGM NRGN OTHR REFE INVM INVL")
DENIED_6 = _codes("ADEA CDCY CDRE DCAN DSET DPRG DREP LATE OTHR CDRG")
CANCELLED_5 = _codes("CANI OTHR")
# semt.014 (intra-position status)
REJECTION_69 = _codes("SAFE ADEA LATE CAEV DDAT REFE OTHR DQUA DSEC INVB INVL INVN MINO MUNO VALR")

# Processing status element per code, and code lists per element (None: one proprietary reason only).
PROCESSING_ELEMENTS: dict[ProcessingStatusCode, str] = {
    ProcessingStatusCode.ACCEPTED: "AckdAccptd",
    ProcessingStatusCode.PENDING_PROCESSING: "PdgPrcg",
    ProcessingStatusCode.REJECTED: "Rjctd",
    ProcessingStatusCode.REPAIR: "Rpr",
    ProcessingStatusCode.CANCELLED: "Canc",
    ProcessingStatusCode.PENDING_CANCELLATION: "PdgCxl",
    ProcessingStatusCode.CANCELLATION_REQUESTED: "CxlReqd",
    ProcessingStatusCode.MODIFICATION_REQUESTED: "ModReqd",
    ProcessingStatusCode.DENIED: "Dnd",
}
PROCESSING_CODES = {element: code for code, element in PROCESSING_ELEMENTS.items()}

SESE024_PROCESSING: dict[str, frozenset[str] | None] = {
    "AckdAccptd": ACKNOWLEDGEMENT_5,
    "PdgPrcg": PENDING_PROCESSING_4,
    "Rjctd": REJECTION_75,
    "Rpr": REPAIR_4,
    "Canc": CANCELLED_16,
    "PdgCxl": PENDING_6,
    "CxlReqd": None,
    "ModReqd": None,
}
SESE027_PROCESSING: dict[str, frozenset[str] | None] = {
    "PdgCxl": PENDING_9,
    "Rjctd": REJECTION_74,
    "Rpr": REPAIR_71,
    "AckdAccptd": ACKNOWLEDGEMENT_3,
    "Dnd": DENIED_6,
    "Canc": CANCELLED_5,
}
SEMT014_PROCESSING: dict[str, frozenset[str] | None] = {
    "Rjctd": REJECTION_69,
    "Rpr": REJECTION_69,
    "Canc": CANCELLED_16,
    "AckdAccptd": ACKNOWLEDGEMENT_5,
}

MATCHING_ELEMENTS = {MatchingStatusCode.MATCHED: "Mtchd", MatchingStatusCode.UNMATCHED: "Umtchd"}
MATCHING_CODES = {element: code for code, element in MATCHING_ELEMENTS.items()}
SESE024_MATCHING: dict[str, frozenset[str] | None] = {"Mtchd": None, "Umtchd": UNMATCHED_11}

SETTLEMENT_ELEMENTS = {SettlementStatusCode.PENDING: "Pdg", SettlementStatusCode.FAILING: "Flng"}
SETTLEMENT_CODES = {element: code for code, element in SETTLEMENT_ELEMENTS.items()}
SESE024_SETTLEMENT: dict[str, frozenset[str] | None] = {"Pdg": PENDING_24, "Flng": FAILING_4}
SEMT014_SETTLEMENT: dict[str, frozenset[str] | None] = {"Pdg": PENDING_10, "Flng": FAILING_3}

# Sub-balance type codes: SecuritiesBalanceType11Code (semt.013, semt.015), ...13Code (semt.014).
BALANCE_11 = _codes(
    "BLOK AWAS AVAI BLCA BLOT BLOV BORR COLI COLO COLA LOAN MARG PECA PEDA PLED REGO RSTR OTHR TRAN DRAW "
    "CLEN DIRT NOMI SPOS UNRG ISSU QUAS LODE"
)
BALANCE_13 = _codes("BLOK AWAS AVAI NOMI PLED REGO RSTR OTHR SPOS UNRG ISSU QUAS COLA")
# SecuritiesBalanceType12Code (semt.002 BalBrkdwn): AVAI is not a breakdown there (AvlblBal is).
BALANCE_12 = _codes(
    "BLOK AWAS BLCA BLOT BLOV BORR BODE BORE COLI COLO LOAN LODE LORE MARG PECA PEDA PEND PENR PLED REGO "
    "RSTR OTHR TRAN DRAW WDOC BTRA"
)
# Statement codes the hub uses (common to semt.002 EventFrequency7Code and semt.017 EventFrequency4Code).
STATEMENT_FREQUENCIES = _codes("YEAR ADHO MNTH DAIL INDA WEEK")
STATEMENT_UPDATE_TYPES = _codes("COMP DELT")
HOLDINGS_BASES = _codes("CONT SETT TRAD")
TRANSACTIONS_BASES = _codes("SETT TRAD")
