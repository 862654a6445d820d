/*
 * editor.h — opening a file in the user's editor.
 */
#ifndef LM_EDITOR_H
#define LM_EDITOR_H

/* Opens path in $EDITOR, $VISUAL or the first known editor found
 * (sensible-editor, editor, nano, vim, code) and waits for it. 0, or -1
 * with the error slot set (no editor found, or it failed). */
int lm_open_in_editor(const char *path);

#endif
