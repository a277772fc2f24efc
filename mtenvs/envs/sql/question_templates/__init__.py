"""The question templates of each built-in SQL database, one module per database.

:mod:`mtenvs.envs.sql.templates` assembles them into ``TEMPLATES``; the record they are
made of is :class:`mtenvs.envs.sql.template_spec.Template`.
"""
