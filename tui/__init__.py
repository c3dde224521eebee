"""`iam-gov review`: the reviewers' Textual app, a thin layer over ``iam_gov.campaigns``.

``app.py`` builds the app from the store, the reviewer and the clock; ``screens/`` holds one
screen per module; ``widgets/item_list.py`` is the list that reads only the rows on screen.
Everything from a directory, an HR file or a reviewer is shown through ``text.py``: plain
``Text``, never markup, never a control character.
"""
