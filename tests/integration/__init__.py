"""Integration tests: the real local services, in the ``test`` namespace.

Importing this package (pytest does, before any test module) moves the run into the namespace
``test`` (``streams.stack.namespace``): topics ``test.*``, consumer group and state topics
``nezlam-test*``, database ``nezlam_test``. The tests never touch what ``make run`` uses.
"""

from streams.stack.namespace import enter

enter("test")
