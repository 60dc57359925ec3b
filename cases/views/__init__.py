"""The pages of the clinical records, one module per resource.

Every lookup goes through `visible_to(user)`: another site's record is a 404. An entry page parses
a form and calls one service; the service's errors appear next to the fields, and a request
either saves everything or nothing.
"""
