return Dotcd.Ctl.CtlMain.Run(args, Console.Out, Console.Error);
