"""Every ``nezlam`` command: one module per command group, over the rest of the package.

May import anything of ``streams``; nothing of ``streams`` imports it.
"""
