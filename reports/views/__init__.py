"""Report views, one module per screen. Shared helpers are in `common`; `reports.urls` and `reports.urls_public`
import the screens' modules."""
