"""The sync inbox: check, validate, align and store a site's push, then acknowledge it."""
