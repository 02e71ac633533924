"""One test, one identity, whichever reporter wrote the file: the same mocha run written by
mocha-junit-reporter, mocha's JSON reporter and mochawesome (fixtures/results/js, written by the
real reporters: regenerate-js.sh)."""

from pathlib import Path

from crossbridge_assets.formats import open_report

JS = Path(__file__).parent / "fixtures" / "results" / "js"


def _identities(name: str) -> dict[str, str]:
    return {c.name: c.identity for c in open_report(JS / name)}


def test_mocha_junit_reporter_gives_the_identities_of_mochas_own_reporters():
    junit = _identities("mocha-junit.xml")
    plain = _identities("mocha-json.json")
    awesome = _identities("mochawesome.json")
    # mocha-junit-reporter leaves pending tests out by default: the three others are all there.
    assert sorted(junit) == ["adds an item", "computes the total C2001", "retries a flaky payment"]
    assert junit == {name: plain[name] for name in junit} == {name: awesome[name] for name in junit}
    cases = {c.name: c for c in open_report(JS / "mocha-junit.xml")}
    assert cases["retries a flaky payment"].suite == "Cart Checkout", "nested describe() titles, as mocha joins them"
    assert cases["computes the total C2001"].status == "failed" and "C2001" in cases["computes the total C2001"].tags
