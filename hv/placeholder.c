/* placeholder until hv/ has sources; remove when adding the first .c */
extern int xova_hv_placeholder;
int xova_hv_placeholder;
