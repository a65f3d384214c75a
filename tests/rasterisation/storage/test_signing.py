from rasterisation.storage.signing import VERDICTS, sign, verify

NOW = 1_700_000_000


def test_roundtrip_and_each_tampering():
    sig = sign("s3cret", "a/b.jpg", NOW + 60)
    assert verify("s3cret", "a/b.jpg", NOW + 60, sig, now=NOW) == "ok"
    assert verify("s3cret", "a/b.jpg", str(NOW + 60), sig, now=NOW) == "ok"
    assert verify("other", "a/b.jpg", NOW + 60, sig, now=NOW) == "invalid"
    assert verify("s3cret", "a/c.jpg", NOW + 60, sig, now=NOW) == "invalid"
    assert verify("s3cret", "a/b.jpg", NOW + 61, sig, now=NOW) == "invalid"
    assert verify("s3cret", "a/b.jpg", NOW + 60, sig[:-1], now=NOW) == "invalid"
    assert verify("s3cret", "a/b.jpg", NOW + 60, sig, now=NOW + 61) == "expired"


def test_garbage_is_invalid_not_an_exception():
    for expires, sig in ((None, None), ("x", "y"), (NOW, ""), (NOW, "é" * 43), ("1e9", "a")):
        assert verify("s", "k", expires, sig, now=NOW) == "invalid"
    assert set(VERDICTS) == {"ok", "invalid", "expired"}


def test_forged_and_expired_reports_invalid():
    assert verify("s", "k", NOW - 10, "forged", now=NOW) == "invalid"


def test_signature_is_url_safe():
    sig = sign("s", "k" * 100, NOW)
    assert len(sig) == 43 and set(sig) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
