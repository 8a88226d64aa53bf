/* placeholder until bootpart/ has sources; remove when adding the first .c */
extern int xova_bootpart_placeholder;
int xova_bootpart_placeholder;
