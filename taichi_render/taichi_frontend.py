"""A faster source-position hook for Taichi 1.7.4's kernel frontend.

Taichi's AST transformer formats a caret-underlined, text-wrapped source excerpt for every
expression and statement it transforms, and hands it to the C++ side as debug information.
That formatting is most of the frontend's time: measured here, 3.2 s of the 3.1-3.7 s it took
to prepare the path tracer's packet kernel, even when the compiled kernel then came from
Taichi's offline cache. This hook passes "file, line, function" instead (what the C++ side's
warnings print), and still formats the full excerpt for the error messages of a kernel that
fails to compile. Installed by `backend.init`; it only replaces `Builder.__call__` and
`ASTTransformerContext.get_pos_info` of the pinned Taichi version.
"""

from __future__ import annotations

import ast
import traceback

_TAICHI_VERSION = (1, 7, 4)


def installed() -> bool:
    """Whether the hook is installed in this process."""
    from taichi.lang.ast import ast_transformer_utils as utils

    return bool(getattr(utils.Builder, "_taichi_render_hook", False))


def install() -> bool:
    """Install the hook (once); returns whether it is active."""
    import taichi as ti
    from taichi.lang import impl
    from taichi.lang.ast import ast_transformer_utils as utils
    from taichi.lang.exception import (
        TaichiCompilationError,
        TaichiSyntaxError,
        handle_exception_from_cpp,
    )

    if tuple(ti.__version__) != _TAICHI_VERSION:
        return False
    builder = utils.Builder
    if getattr(builder, "_taichi_render_hook", False):
        return True
    context = utils.ASTTransformerContext
    full_pos_info = context.get_pos_info

    def short_pos_info(ctx, node):
        return f'File "{ctx.file}", line {node.lineno + ctx.lineno_offset}, in {ctx.func.func.__name__}\n'

    def call(self, ctx, node):
        method = getattr(self, "build_" + node.__class__.__name__, None)
        try:
            if method is None:
                raise TaichiSyntaxError(f'Unsupported node "{node.__class__.__name__}"')
            info = short_pos_info(ctx, node) if isinstance(node, (ast.stmt, ast.expr)) else ""
            with impl.get_runtime().src_info_guard(info):
                return method(ctx, node)
        except Exception as e:  # as Taichi's own Builder.__call__: full source excerpts
            if impl.get_runtime().print_full_traceback:
                raise
            if ctx.raised or not isinstance(node, (ast.stmt, ast.expr)):
                raise e.with_traceback(None)
            ctx.raised = True
            e = handle_exception_from_cpp(e)
            if not isinstance(e, TaichiCompilationError):
                msg = full_pos_info(ctx, node) + traceback.format_exc()
                raise TaichiCompilationError(msg) from None
            msg = full_pos_info(ctx, node) + str(e)
            raise type(e)(msg) from None

    builder.__call__ = call
    context.get_pos_info = short_pos_info  # the debug info of every statement
    builder._taichi_render_hook = True
    return True
