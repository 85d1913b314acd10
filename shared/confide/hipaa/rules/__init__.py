"""The Privacy Rule, one module per CFR section; the engine evaluates them in this order.

1. ``_case`` -- validate the case file (CaseFileError for malformed input), also against the
   published JSON Schema (``confide.hipaa.case_schema``).
2. ``s164_526`` -- amendment requests (45 CFR 164.526).
3. ``s164_501`` -- what is a psychotherapy note (separation; excluded content categories).
4. ``s164_508`` -- psychotherapy notes (and SUD counseling notes, 42 CFR 2.31(b), which mirror
   them): the (a)(2)(i)(A)-(C) and (a)(2)(ii) exceptions, then an authorization; excluded content
   falls through to the progress-note rules.
5. Progress-note (and excluded) content, first rule that applies:
   ``s164_524`` access (individual, personal representative, designee) ->
   ``s164_502`` the Secretary -> ``s164_512`` (a) required by law -> ``s164_508`` authorization ->
   ``s164_512`` (b), (d), (e), (f), (g), (i), (j), (l) -> ``s164_510`` involvement/emergency ->
   ``s164_506`` TPO (with ``s164_514`` role-based access and ``s164_502`` business associates)
   -> otherwise ``s164_508(a)(1)``: authorization required.
6. A minimum-necessary permit without a configured field set is denied (164.514(d)(3)); then the
   overlays: ``cfr42_part2`` (42 CFR Part 2 as amended in 2024: SUD counseling notes, consent, the
   single TPO consent, the 2.32 notice), ``states`` (the practice's state law by ``jurisdiction``:
   ``states.california``, ``states.new_york``; an unknown code releases nothing), ``s160_203``
   (configured state consent rules, ``jurisdiction_overlay``).
7. ``s164_514`` (h) verification -> ``hold``; ``s164_502`` other participants -> redaction.
8. ``s164_528`` accounting of disclosures.
"""
