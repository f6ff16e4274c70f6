"""Optional error reporting: Sentry, only when SENTRY_DSN is set (`pip install
'ydpipelines[sentry]'`); without a DSN the SDK is never imported."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


def init_sentry(dsn: str, *, environment: str, traces_sample_rate: float) -> None:
    try:
        import sentry_sdk
    except ImportError:
        raise ImproperlyConfigured(
            "SENTRY_DSN is set but sentry-sdk is not installed: pip install 'ydpipelines[sentry]'"
        ) from None
    # The Django and Celery integrations switch themselves on when those packages are present.
    sentry_sdk.init(
        dsn=dsn,
        environment=environment or None,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,  # no user names, cookies or bodies leave the cluster
    )
