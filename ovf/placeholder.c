/* placeholder until ovf/ has sources; remove when adding the first .c */
extern int xova_ovf_placeholder;
int xova_ovf_placeholder;
