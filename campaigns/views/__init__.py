"""Campaign pages, one module per screen. Views parse input, call selectors and services, and pick the response:
a full page, or on an htmx request only the partial that changed (`template.html#partial`) plus an HX-Trigger
event. Every POST also works as a plain form post answered with a redirect and a Django message.

`list` the campaign list · `actions` pause / resume / end (bulk and single) with their confirmations ·
`detail` the campaign page · `schedule` scheduled actions · `edit` create and edit · `calendar` the month and
the ICS feed · `accounts` the account page and platform sync · `imports` Ads Manager file import ·
`winddown` the wind-down checklist · `notifications` the notification centre and watching ·
`common` small helpers they share."""
