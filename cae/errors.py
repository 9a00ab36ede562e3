"""The one exception type users see: a message that says what to do next."""


class CaeError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits non-zero."""


def brief_in_notebooks() -> None:
    """In IPython (a notebook), show a CaeError as its message alone, not a traceback wall:
    the message already says what to do next (`%tb` still shows the traceback)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((CaeError,), _message_only)


def _message_only(shell, etype, value, tb, tb_offset=None) -> None:
    shell.showtraceback((etype, value, tb), exception_only=True)
