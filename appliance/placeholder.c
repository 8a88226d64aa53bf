/* placeholder until appliance/ has sources; remove when adding the first .c */
extern int xova_appliance_placeholder;
int xova_appliance_placeholder;
