/* The cast of the stories (docs/stories.md; the shell's `cast`): tasks for the watchdog's dump. */
#pragma once

/* Two workers, a sleeper, and a task whose frame chain leads into unmapped memory, which
 * show_state() must survive; returns once each has run and settled. */
void task_create_cast(void);
