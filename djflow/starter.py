"""The pipefile that ``djflow init`` writes: small, commented, and runnable at once."""

STARTER_PIPEFILE = '''\
"""A djflow pipeline. Every decorated function below is a table.

The docstring is the table's definition (DataJoint's definition language): attributes
above the ``---`` line form the primary key, those below it are the other attributes,
and ``-> Parent`` copies the parent's primary key. For imported and computed tables the
function body is the ``make`` step: it computes the row for one key.

Try it:

    djflow run              # computes Square for every Number
    djflow show Square
    djflow status
    djflow diagram          # the dependency graph as Mermaid
"""

import djflow


@djflow.lookup(contents=[(1,), (2,), (3,)])
def Number():
    """
    n : int          # a number to work on
    """


@djflow.computed
def Square(key, Number):
    """
    -> Number
    ---
    square : int     # n * n
    """
    # ``key`` is the primary key of the row to compute, here {"n": ...}; ``Number`` is
    # the Number table restricted to that key (parameters are injected by name).
    n = Number.fetch1("n")
    return {"square": n * n}


# A manual table: rows come from outside, e.g. `djflow insert Note notes.csv` with a CSV
# header line "n,text". Deleting a Number deletes its Notes and its Square too.
@djflow.manual
def Note():
    """
    -> Number
    note_id : int
    ---
    text = '' : varchar(255)
    """
'''
