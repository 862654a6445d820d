/*
 * main.c — argv to a command, and the exit status; nothing else.
 */
#include "cli.h"

int main(int argc, char **argv)
{
	return lm_main(argc, argv);
}
