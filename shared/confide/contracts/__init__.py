"""The published contract between Confide's services.

Every event that a service other than its writer reads is defined here, once, typed (frozen
dataclasses, :mod:`confide.contracts.base`), with the rules for changing it:

==========================  ===================================  =====================================
module                      events (writer)                      read by
==========================  ===================================  =====================================
:mod:`.notes`               note streams (notes)                 disclosures (facts), audit
:mod:`.access`              AccessDecided, ContentReleased       notes (before any release), audit
                            (notes for reads, disclosures)
:mod:`.disclosures`         Disclosure*, Accounting*             audit (logs, accounting, re-judging)
                            (disclosures)
:mod:`.authorizations`      Authorization* (disclosures)         audit (re-judging, as-of)
:mod:`.directory`           workforce, patient, payer, sign-in   every service's Identity provider
                            and refusal events (directory; the   (member/patient/payer_as_of),
                            refusals by every service)           audit
==========================  ===================================  =====================================

Beside the events, the read models more than one service needs: :mod:`.casefile` (the decision
engine's case file, built one way by notes, disclosures and audit's re-judging), the request and
authorization folds, the directory's member/patient/payer read models, and :mod:`.patient_index` (the event types the store indexes by patient, from
which the SQL index is rendered). A service reads another's facts only through this package.

This package imports only the standard library, :mod:`confide.streams` / :mod:`confide.timestamps` and
:mod:`confide.identity.ids`:
it is domain code, free of nameko, kombu, psycopg and marshmallow (``make lint`` enforces it).
Versioning rules: :mod:`confide.contracts.base`.
"""
